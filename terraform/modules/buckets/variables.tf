variable "bucket_name" {
  type        = string
  description = "Name of the bucket."
}

variable "force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete the bucket with every object version in it."
  default     = false
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for default encryption (SSE-KMS with an S3 bucket key). Null falls back to SSE-S3 (AES256)."
  default     = null
}

variable "deny_insecure_transport" {
  type        = bool
  description = "Attach a bucket policy denying every request made without TLS (aws:SecureTransport = false). Only the local stack turns it off: moto evaluates a Deny with an unsupported condition operator as matching, which would deny all requests."
  default     = true
}

variable "transitions" {
  type = list(object({
    days          = number
    storage_class = string
  }))
  description = "Storage-class transitions of current object versions, e.g. [{ days = 30, storage_class = \"STANDARD_IA\" }]. Empty for none."
  default     = []
}

variable "abort_incomplete_multipart_after_days" {
  type        = number
  description = "Days after which incomplete multipart uploads are aborted."
  default     = 7
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days after which noncurrent object versions expire. Null keeps them."
  default     = null
}

variable "expire_prefixes" {
  type        = map(number)
  description = "Prefixes whose objects expire after the given days (scratch objects, e.g. { \"_copy/\" = 7 }). Empty for none."
  default     = {}
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for the bucket."
  default     = {}
}
