variable "name_prefix" {
  type        = string
  description = "Prefix of the schedule group, the schedules and the Scheduler role."
}

variable "schedules" {
  type = map(object({
    schedule_expression = string
    timezone            = optional(string, "UTC")
    target_arn          = string
    payload             = string
  }))
  description = "Schedules by name: an EventBridge Scheduler expression (cron(...), rate(...), at(...)), the Lambda function it invokes and the payload it sends (a JSON string)."
}

variable "dead_letter_arn" {
  type        = string
  description = "SQS queue receiving invocations Scheduler could not deliver after its retries."
}

variable "maximum_retry_attempts" {
  type        = number
  description = "Retries of a failed delivery (0-185)."
  default     = 3
}

variable "maximum_event_age_seconds" {
  type        = number
  description = "How long Scheduler keeps retrying an invocation (60-86400)."
  default     = 3600
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key encrypting the schedules' payloads. Null uses an AWS-owned key."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for the schedule group and role."
  default     = {}
}
