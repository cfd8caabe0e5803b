variable "name_prefix" {
  type        = string
  description = "Prefix of the COPY role and of the Serverless namespace and workgroup."
}

variable "curated_bucket_arn" {
  type        = string
  description = "ARN of the curated bucket COPY reads from."
}

variable "copy_prefixes" {
  type        = list(string)
  description = "Key prefixes in the curated bucket that COPY may read (the Parquet parts and COPY manifests)."
}

variable "unload_prefixes" {
  type        = list(string)
  description = "Key prefixes in the curated bucket UNLOAD may write (run-job's archive/ and exports/); empty grants no write."
  default     = []
}

variable "external_ids" {
  type        = list(string)
  description = "sts:ExternalId values the COPY role's trust requires (Redshift passes the database user's ARN, arn:aws:redshift:<region>:<account>:dbuser:<cluster>/<user>); empty: any user of a cluster or namespace the role is associated with."
  default     = []
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the curated bucket (COPY decrypts with it) and of a created namespace. Null when the bucket uses SSE-S3."
  default     = null
}

variable "serverless" {
  type = object({
    create              = optional(bool, false)
    database_name       = optional(string, "analytics")
    admin_username      = optional(string, "admin")
    base_capacity_rpus  = optional(number, 8)
    subnet_ids          = optional(list(string), [])
    security_group_ids  = optional(list(string), [])
    publicly_accessible = optional(bool, false)
    # COPY and UNLOAD through the VPC (off: Redshift reaches S3 over its own network path).
    enhanced_vpc_routing = optional(bool, false)
    s3_endpoint = optional(object({
      vpc_id          = string
      route_table_ids = list(string)
    }))
  })
  description = "Optional Redshift Serverless namespace and workgroup using the COPY role (admin password managed by Redshift in Secrets Manager). Off by default; empty subnet_ids use the default VPC. enhanced_vpc_routing forces COPY and UNLOAD through the workgroup's VPC, which then needs a route to S3: s3_endpoint creates a gateway endpoint on the given route tables."
  default     = {}
}

variable "tags" {
  type        = map(string)
  description = "Extra tags."
  default     = {}
}
