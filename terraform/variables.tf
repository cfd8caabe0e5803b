variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name, e.g. \"landfall-dev\". Lowercase letters, digits and hyphens."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-42 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "aws_region" {
  type        = string
  description = "AWS region for every resource."
  default     = "us-east-1"
}

variable "config_file" {
  type        = string
  description = "Path to the landfall YAML config, uploaded to s3://<curated>/_config/landfall.yaml. Null means \"$${path.module}/../config/landfall.yaml\" (the repo's config/landfall.yaml)."
  default     = null
}

variable "landing_bucket_name" {
  type        = string
  description = "Name of the landing (raw) bucket. Null derives \"<name_prefix>-landing\"; set it in production if that name is taken (bucket names are global)."
  default     = null
}

variable "curated_bucket_name" {
  type        = string
  description = "Name of the curated (Parquet lake) bucket. Null derives \"<name_prefix>-curated\"."
  default     = null
}

variable "force_destroy_buckets" {
  type        = bool
  description = "Allow `terraform destroy` to delete non-empty buckets (all object versions). True only for throwaway stacks."
  default     = false
}

variable "require_tls" {
  type        = bool
  description = "Give both buckets a policy that denies non-TLS requests. Keep true; the local stack sets false because moto wrongly applies such a Deny to every request (it ignores the aws:SecureTransport condition)."
  default     = true
}

variable "kms_enabled" {
  type        = bool
  description = "Encrypt both buckets with SSE-KMS (a customer-managed key). False falls back to SSE-S3 (AES256)."
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of an existing customer-managed KMS key for the buckets, log groups, Lambda environments, schedules and the alarm topic. Its policy must let logs.<region>.amazonaws.com (log groups /aws/lambda/<name_prefix>-*) and cloudwatch.amazonaws.com use it, as the created key's does. Null (with kms_enabled) creates one."
  default     = null
}

variable "kms_key_deletion_window_days" {
  type        = number
  description = "Waiting period before a created KMS key is deleted after `terraform destroy` (7-30)."
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be between 7 and 30."
  }
}

variable "landing_lifecycle" {
  type = object({
    standard_ia_after_days                = optional(number, 30)
    glacier_ir_after_days                 = optional(number, 180)
    abort_incomplete_multipart_after_days = optional(number, 7)
    noncurrent_version_expiration_days    = optional(number)
  })
  description = "Landing bucket lifecycle: transition to STANDARD_IA, then GLACIER_IR; abort stale multipart uploads; optionally expire noncurrent versions (null keeps them)."
  default     = {}

  validation {
    condition     = var.landing_lifecycle.standard_ia_after_days >= 30 && var.landing_lifecycle.glacier_ir_after_days > var.landing_lifecycle.standard_ia_after_days
    error_message = "standard_ia_after_days must be >= 30 (an S3 minimum) and glacier_ir_after_days must be greater."
  }
}

variable "curated_lifecycle" {
  type = object({
    abort_incomplete_multipart_after_days = optional(number, 7)
    noncurrent_version_expiration_days    = optional(number, 30)
  })
  description = "Curated bucket lifecycle: abort stale multipart uploads, expire noncurrent versions."
  default     = {}
}

variable "functions" {
  type = object({
    parse_file = optional(object({
      timeout_seconds         = optional(number, 300)
      memory_mb               = optional(number, 1024)
      ephemeral_storage_mb    = optional(number, 512)
      batch_size              = optional(number, 5)
      batching_window_seconds = optional(number, 0)
      max_concurrency         = optional(number, 20)
      max_receive_count       = optional(number, 5)
      reserved_concurrency    = optional(number)
      max_message_age_seconds = optional(number, 3600)
      vpc                     = optional(object({ subnet_ids = list(string), security_group_ids = list(string) }))
      # "auto": two threads where the memory size buys two vCPUs (3,538 MB).
      threads = optional(string, "auto")
    }), {})
    register_partitions = optional(object({
      timeout_seconds         = optional(number, 60)
      memory_mb               = optional(number, 256)
      ephemeral_storage_mb    = optional(number, 512)
      batch_size              = optional(number, 500)
      batching_window_seconds = optional(number, 10)
      max_concurrency         = optional(number, 2)
      max_receive_count       = optional(number, 5)
      reserved_concurrency    = optional(number)
      max_message_age_seconds = optional(number, 3600)
      vpc                     = optional(object({ subnet_ids = list(string), security_group_ids = list(string) }))
    }), {})
    fetch_api = optional(object({
      timeout_seconds         = optional(number, 300)
      memory_mb               = optional(number, 256)
      ephemeral_storage_mb    = optional(number, 512)
      batch_size              = optional(number, 1)
      batching_window_seconds = optional(number, 0)
      max_concurrency         = optional(number, 2)
      max_receive_count       = optional(number, 5)
      reserved_concurrency    = optional(number)
      max_message_age_seconds = optional(number, 3600)
      vpc                     = optional(object({ subnet_ids = list(string), security_group_ids = list(string) }))
    }), {})
    run_job = optional(object({
      timeout_seconds         = optional(number, 900)
      memory_mb               = optional(number, 1024)
      ephemeral_storage_mb    = optional(number, 512)
      batch_size              = optional(number, 1)
      batching_window_seconds = optional(number, 0)
      max_concurrency         = optional(number, 2)
      max_receive_count       = optional(number, 5)
      reserved_concurrency    = optional(number)
      max_message_age_seconds = optional(number, 3600)
      vpc                     = optional(object({ subnet_ids = list(string), security_group_ids = list(string) }))
    }), {})
    load_warehouse = optional(object({
      timeout_seconds         = optional(number, 600)
      memory_mb               = optional(number, 512)
      ephemeral_storage_mb    = optional(number, 512)
      batch_size              = optional(number, 500)
      batching_window_seconds = optional(number, 60)
      max_concurrency         = optional(number, 2)
      max_receive_count       = optional(number, 5)
      reserved_concurrency    = optional(number)
      max_message_age_seconds = optional(number, 3600)
      vpc                     = optional(object({ subnet_ids = list(string), security_group_ids = list(string) }))
    }), {})
    monitor_feeds = optional(object({
      timeout_seconds         = optional(number, 300)
      memory_mb               = optional(number, 256)
      ephemeral_storage_mb    = optional(number, 512)
      batch_size              = optional(number, 1)
      batching_window_seconds = optional(number, 0)
      max_concurrency         = optional(number, 2)
      max_receive_count       = optional(number, 5)
      reserved_concurrency    = optional(number)
      max_message_age_seconds = optional(number, 3600)
      vpc                     = optional(object({ subnet_ids = list(string), security_group_ids = list(string) }))
    }), {})
  })
  description = <<-EOT
    Per-function settings, keyed by function (underscores). Any attribute left out keeps its default.
    timeout_seconds (Lambda, 1-900), memory_mb (128-10240), ephemeral_storage_mb (/tmp, 512-10240; parse-file
    keeps a file's open parts and its spilled rows within a third of it each), batch_size (SQS event source mapping, 1-10000;
    above 10 needs batching_window_seconds >= 1), batching_window_seconds (0-300), max_concurrency
    (event source mapping maximum concurrency, 2-1000), max_receive_count (receives before a message moves
    to the dead-letter queue), reserved_concurrency (null: none reserved), max_message_age_seconds (alarm when
    the queue's oldest message is older). fetch_api and monitor_feeds have no queue (schedules, and for
    monitor_feeds the alerts topic, invoke them); only their timeout, memory and reserved_concurrency apply.
    vpc ({ subnet_ids, security_group_ids }; null: none): run the function in a VPC, for a database source
    (fetch_api) or a PostgreSQL warehouse (load_warehouse, run_job, monitor_feeds) reachable only there; the
    subnets need VPC endpoints or NAT for S3, SQS, Glue and Secrets Manager.
    parse_file.threads ("auto", "1" or "2"): threads per conversion; auto uses two where memory_mb buys two
    vCPUs' worth of time (3,538 MB and up; Lambda gives one vCPU's worth per 1,769 MB).
  EOT
  default     = {}

  validation {
    condition = alltrue([for f in values(var.functions) : (
      f.timeout_seconds >= 1 && f.timeout_seconds <= 900 &&
      f.memory_mb >= 128 && f.memory_mb <= 10240 &&
      f.ephemeral_storage_mb >= 512 && f.ephemeral_storage_mb <= 10240 &&
      f.batch_size >= 1 && f.batch_size <= 10000 &&
      f.batching_window_seconds >= 0 && f.batching_window_seconds <= 300 &&
      (f.batch_size <= 10 || f.batching_window_seconds >= 1) &&
      f.max_concurrency >= 2 && f.max_concurrency <= 1000 &&
      f.max_receive_count >= 1 && f.max_receive_count <= 1000
    )])
    error_message = "Each function needs timeout 1-900, memory 128-10240, ephemeral storage 512-10240, batch_size 1-10000 (>10 needs batching_window_seconds >= 1), batching window 0-300, max_concurrency 2-1000, max_receive_count 1-1000."
  }

  validation {
    condition     = contains(["auto", "1", "2"], var.functions.parse_file.threads)
    error_message = "functions.parse_file.threads must be \"auto\", \"1\" or \"2\"."
  }

  # Lambda throttles what a queue's event source mapping sends past the function's reserved
  # concurrency (the mapping does not know of it); 0 stops the function on purpose.
  validation {
    condition = alltrue([for k in ["parse_file", "register_partitions", "load_warehouse"] :
      coalesce(var.functions[k].reserved_concurrency, 0) == 0 || coalesce(var.functions[k].reserved_concurrency, 0) >= var.functions[k].max_concurrency
    ])
    error_message = "A queue-fed function's reserved_concurrency must be null, 0 (stopped) or at least its max_concurrency, or Lambda throttles the batches its queue sends: ${join(", ", [for k in ["parse_file", "register_partitions", "load_warehouse"] : "${k} reserves ${var.functions[k].reserved_concurrency} for max_concurrency ${var.functions[k].max_concurrency}" if coalesce(var.functions[k].reserved_concurrency, 0) > 0 && coalesce(var.functions[k].reserved_concurrency, 0) < var.functions[k].max_concurrency])}."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : coalesce(f.reserved_concurrency, 0) >= 0])
    error_message = "reserved_concurrency must be null or 0 and up."
  }
}

variable "visibility_timeout_override_seconds" {
  type        = number
  description = "Visibility timeout for every work queue. Null (production) uses 6 x the function timeout; the local stack sets a few seconds so retries happen quickly in tests."
  default     = null

  validation {
    condition     = var.visibility_timeout_override_seconds == null || (coalesce(var.visibility_timeout_override_seconds, 0) >= 0 && coalesce(var.visibility_timeout_override_seconds, 0) <= 43200)
    error_message = "visibility_timeout_override_seconds must be null or 0-43200."
  }

  # Lambda refuses an SQS event source mapping whose queue's visibility timeout is below the
  # function's timeout. The local stack creates no mappings (create_functions = false).
  validation {
    condition = var.visibility_timeout_override_seconds == null || !var.create_functions || alltrue([
      for k in ["parse_file", "register_partitions", "load_warehouse"] : coalesce(var.visibility_timeout_override_seconds, 0) >= var.functions[k].timeout_seconds
    ])
    error_message = "visibility_timeout_override_seconds (${coalesce(var.visibility_timeout_override_seconds, 0)} s) is below the timeout of ${join(", ", [for k in ["parse_file", "register_partitions", "load_warehouse"] : "${k} (${var.functions[k].timeout_seconds} s)" if coalesce(var.visibility_timeout_override_seconds, 0) < var.functions[k].timeout_seconds])}: Lambda refuses an SQS trigger whose queue hides a message for less than the function may run. Leave it null (6 x the timeout) or raise it."
  }
}

variable "message_retention_seconds" {
  type        = number
  description = "Retention of messages on the work queues (the dead-letter queues keep 14 days)."
  default     = 345600
}

variable "iam_managed_policies_per_role" {
  type        = number
  description = "Managed policies an IAM role may have attached in this account (IAM's default quota is 10; it can be raised to 20). Each function role takes one per 20 feed prefixes (parse-file, fetch-api) and one for a VPC; the plan fails when a role would need more."
  default     = 10

  validation {
    condition     = var.iam_managed_policies_per_role >= 1 && var.iam_managed_policies_per_role <= 20
    error_message = "iam_managed_policies_per_role must be 1-20 (IAM's maximum quota)."
  }
}

variable "create_functions" {
  type        = bool
  description = "Create the Lambda functions, their SQS event source mappings and schedules. False for the local stack, where a pump delivers the messages to the handlers instead."
  default     = true
}

variable "lambda_zip_dir" {
  type        = string
  description = "Directory of the built deployment packages, laid out as cargo lambda writes them: <dir>/<function>/bootstrap.zip. Null means the repo's target/lambda, where infra/package writes them; the plan fails naming any function whose zip is missing."
  default     = null
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the functions' CloudWatch log groups, in days (a CloudWatch Logs retention value)."
  default     = 365
}

variable "log_level" {
  type        = string
  description = "Application log level of every function (TRACE, DEBUG, INFO, WARN, ERROR, FATAL). The functions filter their own logs at it (RUST_LOG); Lambda's application log level stays at INFO or below, because Lambda gives a line without a level key (the EMF metric documents) the level INFO and would drop every metric at WARN."
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "create_monitoring" {
  type        = bool
  description = "Create the SNS alarm topic, the alarms and the dashboard. False for the local stack."
  default     = true
}

variable "alarm_emails" {
  type        = list(string)
  description = "Email addresses subscribed to the alarm topic."
  default     = []
}

variable "alert_email" {
  type        = string
  description = "One address subscribed to the alerts topic (every alarm, feed alert and refused-file digest), besides alarm_emails; it confirms by mail. Null: none."
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", var.alert_email))
    error_message = "alert_email must be one email address (name@domain.tld)."
  }
}

variable "slack_webhook_secret_name" {
  type        = string
  description = "Secrets Manager secret (name or ARN) whose string value is the Slack incoming-webhook URL monitor-feeds posts alerts, digests and alarms to. Null: no Slack (feeds may still name their own with notify.slack_secret)."
  default     = null

  validation {
    condition     = var.slack_webhook_secret_name == null || !startswith(coalesce(var.slack_webhook_secret_name, "-"), "https://")
    error_message = "slack_webhook_secret_name names the secret holding the webhook URL, not the URL itself."
  }
}

variable "monitor_schedule" {
  type = object({
    schedule_expression = optional(string, "rate(15 minutes)")
    timezone            = optional(string, "UTC")
  })
  description = "When monitor-feeds evaluates the feeds' expectations and sends the digest of refused and failed files."
  default     = {}
}

variable "repair_schedule" {
  type = object({
    schedule_expression = optional(string, "cron(15 3 * * ? *)")
    timezone            = optional(string, "UTC")
    days                = optional(number, 3)
  })
  description = "The daily partition repair: when register-partitions runs it and how many days back it looks."
  default     = {}
}

variable "schedule_retry" {
  type = object({
    maximum_retry_attempts    = optional(number, 3)
    maximum_event_age_seconds = optional(number, 3600)
  })
  description = "Retry policy of every schedule before the invocation goes to the schedules' dead-letter queue."
  default     = {}
}

variable "warehouse" {
  type = object({
    url             = optional(string)
    password_secret = optional(string)
  })
  description = "load-warehouse's connection, overriding the config's warehouse: section: a URL without a password, and the Secrets Manager secret (name or ARN) holding it. The loader's role may read only this secret."
  default     = {}
}

variable "fetch_api_secrets" {
  type        = list(string)
  description = "Secrets Manager secrets (names or ARNs) the sources' auth names; fetch-api's role may read only these."
  default     = []
}

variable "redshift" {
  type = object({
    data_api_target_arn = optional(string)
    copy_prefixes       = optional(list(string), ["tables/", "_copy/"])
    # sts:ExternalId values the COPY role's trust requires (database user ARNs); empty: none.
    copy_role_external_ids = optional(list(string), [])
    serverless = optional(object({
      create               = optional(bool, false)
      database_name        = optional(string, "analytics")
      admin_username       = optional(string, "admin")
      base_capacity_rpus   = optional(number, 8)
      subnet_ids           = optional(list(string), [])
      security_group_ids   = optional(list(string), [])
      publicly_accessible  = optional(bool, false)
      enhanced_vpc_routing = optional(bool, false)
      s3_endpoint = optional(object({
        vpc_id          = string
        route_table_ids = list(string)
      }))
    }), {})
  })
  description = <<-EOT
    Redshift: data_api_target_arn is the cluster (arn:...:redshift:...:cluster:NAME) or Serverless workgroup ARN the loader
    may run Data API statements on (null: none; a created workgroup is used when serverless.create). copy_prefixes are the
    curated prefixes the COPY role reads. serverless.create makes a namespace and workgroup with the COPY role attached.
    copy_role_external_ids: sts:ExternalId values (database user ARNs) the COPY role's trust requires; empty: none.
    serverless.enhanced_vpc_routing (default false) forces COPY and UNLOAD through the workgroup's VPC, which then needs
    subnet_ids and a route to S3: serverless.s3_endpoint = { vpc_id, route_table_ids } creates an S3 gateway endpoint on
    the route tables of those subnets (or the VPC already has one, or a NAT).
  EOT
  default     = {}

  # With enhanced VPC routing COPY and UNLOAD reach S3 only through the VPC (a gateway endpoint or
  # a NAT); the default VPC, which an empty subnet_ids means, has neither.
  validation {
    condition     = !var.redshift.serverless.enhanced_vpc_routing || length(var.redshift.serverless.subnet_ids) > 0
    error_message = "redshift.serverless.enhanced_vpc_routing needs subnet_ids: in the default VPC, which has no S3 endpoint or NAT, COPY and UNLOAD could not reach the bucket. Give the subnets and a route from them to S3 (s3_endpoint = { vpc_id, route_table_ids } creates the gateway endpoint), or leave enhanced_vpc_routing off."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (merged into the provider's default_tags)."
  default     = {}
}

variable "jobs_slack_webhook_secret" {
  type        = string
  description = "Secrets Manager name or ARN holding the Slack incoming webhook URL run-job posts export and failure messages to (null: no messages)."
  default     = null
}
