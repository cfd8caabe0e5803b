variable "name" {
  type        = string
  description = "Name of the work queue; the dead-letter queue is \"<name>-dlq\"."
}

variable "visibility_timeout_seconds" {
  type        = number
  description = "Visibility timeout of the work queue (6 x the consuming function's timeout in production)."
}

variable "max_receive_count" {
  type        = number
  description = "Receives of a message before SQS moves it to the dead-letter queue."
}

variable "message_retention_seconds" {
  type        = number
  description = "Retention of messages on the work queue."
  default     = 345600
}

variable "dlq_message_retention_seconds" {
  type        = number
  description = "Retention of messages on the dead-letter queue (14 days, the maximum)."
  default     = 1209600
}

variable "receive_wait_time_seconds" {
  type        = number
  description = "Long-poll wait of ReceiveMessage calls that do not set one."
  default     = 20
}

variable "source_bucket_arns" {
  type        = list(string)
  description = "ARNs of the S3 buckets allowed to send event notifications to the work queue."
  default     = []
}

variable "source_account_id" {
  type        = string
  description = "Account that owns the source buckets (aws:SourceAccount condition). Null omits the condition."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for both queues."
  default     = {}
}
