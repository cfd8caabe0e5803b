variable "name" {
  type        = string
  description = "Function name (also its role's and log group's name), e.g. \"landfall-prod-parse-file\"."
}

variable "description" {
  type        = string
  description = "What the function does."
  default     = ""
}

variable "zip_file" {
  type        = string
  description = "Path of the deployment package: the bootstrap.zip that infra/package (cargo lambda build --release --arm64 --output-format zip) writes to target/lambda/<function>/. The plan fails when it is missing."
}

variable "environment" {
  type        = map(string)
  description = "Environment variables (the functions read them once, at cold start)."
  default     = {}
}

variable "memory_mb" {
  type        = number
  description = "Memory in MB (128-10240); CPU scales with it."
}

variable "ephemeral_storage_mb" {
  type        = number
  description = "The function's /tmp in MB (512-10240)."
  default     = 512
}

variable "timeout_seconds" {
  type        = number
  description = "Function timeout in seconds (1-900). The feeding queue's visibility timeout must be at least 6 times this."
}

variable "reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions; null leaves the function on the account's unreserved pool (the event source mapping's maximum concurrency still caps SQS-driven runs)."
  default     = null
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the function's CloudWatch log group."
}

variable "log_level" {
  type        = string
  description = "Application log level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL): the function's tracing subscriber filters at it (RUST_LOG); Lambda's application log filter at it or INFO, whichever lets more through, so the metric lines (no level key: INFO to Lambda) are never dropped."
  default     = "INFO"
  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the log group and the environment variables, and which the role may use (the buckets' key). Null uses AWS-owned keys."
  default     = null
}

variable "queue" {
  type = object({
    arn                     = string
    batch_size              = number
    batching_window_seconds = number
    max_concurrency         = number
  })
  description = "The SQS queue that triggers the function, with the event source mapping's settings. Null for a function that is only invoked (schedules)."
  default     = null
}

variable "async_dead_letter_arn" {
  type        = string
  description = "SQS queue receiving asynchronous invocations (schedules) that failed after Lambda's retries; the role may send only to it."
}

variable "policy_statements" {
  type = list(object({
    Sid       = string
    Effect    = optional(string, "Allow")
    Action    = list(string)
    Resource  = list(string)
    Condition = optional(map(map(list(string))))
  }))
  description = "IAM statements for what the function touches beyond its own logs, queue and key: its buckets and prefixes, Glue database, secrets, Data API. Name resources exactly; no wildcards beyond a prefix."
  default     = []
}

variable "async_retry_attempts" {
  type        = number
  description = "Retries Lambda makes of a failed asynchronous invocation (a schedule's), 0-2; null keeps Lambda's default of 2."
  default     = null
}

variable "policy_statement_groups" {
  type = list(list(object({
    Sid       = string
    Effect    = optional(string, "Allow")
    Action    = list(string)
    Resource  = list(string)
    Condition = optional(map(map(list(string))))
  })))
  description = "Statements that grow with the config (the feeds' prefixes), in groups: each group is one customer-managed policy attached to the role (at most 6,144 characters each), beside the inline policy of policy_statements (10,240 characters for all of a role's inline policies)."
  default     = []
}

variable "managed_policy_quota" {
  type        = number
  description = "Managed policies an IAM role may have attached (10 by default; a quota increase allows up to 20). The plan fails when the groups and the VPC policy need more."
  default     = 10
}

variable "vpc" {
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  description = "Subnets and security groups to run in, for a database source or warehouse inside a VPC (the subnets need a route to S3, SQS and the other AWS endpoints: VPC endpoints or NAT). Null: no VPC."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for the function, role and log group."
  default     = {}
}
