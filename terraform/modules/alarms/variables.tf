variable "name_prefix" {
  type        = string
  description = "Prefix of the topic, alarms and dashboard."
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the SNS topic; its policy must let cloudwatch.amazonaws.com use it. Null uses the AWS-managed alias/aws/sns, which CloudWatch alarms cannot publish to."
  default     = null
}

variable "email_subscriptions" {
  type        = list(string)
  description = "Email addresses subscribed to the alarm topic (each confirms by mail)."
  default     = []
}

variable "functions" {
  type        = list(string)
  description = "Lambda function names: an alarm each on Errors and on Throttles."
}

variable "queues" {
  type = map(object({
    queue_name         = string
    max_age_seconds    = number
    dead_letter_queues = list(string)
  }))
  description = "Work queues by key: an alarm when the oldest message is older than max_age_seconds, and one per dead-letter queue when it holds any message."
}

variable "dead_letter_queues" {
  type        = list(string)
  description = "Further dead-letter queues (failed schedules and asynchronous invocations): an alarm each when not empty."
  default     = []
}

variable "metric_namespace" {
  type        = string
  description = "CloudWatch namespace of the functions' EMF metrics."
  default     = "landfall"
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for the topic and alarms."
  default     = {}
}
