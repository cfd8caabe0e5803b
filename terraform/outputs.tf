output "landing_bucket" {
  description = "Name of the landing (raw) bucket."
  value       = module.landing_bucket.id
}

output "curated_bucket" {
  description = "Name of the curated (Parquet lake) bucket."
  value       = module.curated_bucket.id
}

output "config_url" {
  description = "S3 URL of the uploaded landfall config."
  value       = "s3://${aws_s3_object.config.bucket}/${aws_s3_object.config.key}"
}

output "glue_database" {
  description = "Name of the Glue Data Catalog database."
  value       = module.glue.name
}

output "region" {
  description = "AWS region of the stack."
  value       = data.aws_region.current.name
}

output "kms_key_arn" {
  description = "KMS key encrypting both buckets (null when they use AES256)."
  value       = local.kms_key_arn
}

output "queues" {
  description = "Per function (\"parse-file\", \"register-partitions\", \"load-warehouse\"): its work queue, dead-letter queue and event source mapping settings. The local pump reads this to deliver messages as Lambda would."
  value = {
    for k, name in local.function_names : name => {
      url                        = module.queue[k].url
      arn                        = module.queue[k].arn
      dlq_url                    = module.queue[k].dlq_url
      dlq_arn                    = module.queue[k].dlq_arn
      visibility_timeout_seconds = module.queue[k].visibility_timeout_seconds
      max_receive_count          = module.queue[k].max_receive_count
      batch_size                 = var.functions[k].batch_size
      batching_window_seconds    = var.functions[k].batching_window_seconds
    }
  }
}

output "functions" {
  description = "Per deployed function (\"parse-file\", ...): its name, ARN, role and log group. Empty when create_functions is false."
  value = {
    for k, f in module.function : local.deployed_functions[k] => {
      function_name  = f.function_name
      arn            = f.arn
      role_arn       = f.role_arn
      log_group_name = f.log_group_name
    }
  }
}

output "schedules" {
  description = "EventBridge Scheduler schedules by name (fetch-<source> and repair-partitions) with expression and target."
  value       = try(module.schedules[0].schedules, {})
}

output "redshift_copy_role_arn" {
  description = "IAM role for Redshift COPY (IAM_ROLE): reads the curated bucket's COPY prefixes and decrypts with its key. Attach it to the cluster or Serverless namespace."
  value       = module.redshift.copy_role_arn
}

output "redshift_workgroup" {
  description = "Name of the Redshift Serverless workgroup created here (null when none)."
  value       = module.redshift.workgroup_name
}

output "alarm_topic_arn" {
  description = "SNS topic of every alarm (null without monitoring)."
  value       = try(module.alarms[0].topic_arn, null)
}

output "dashboard_name" {
  description = "CloudWatch dashboard with files processed, rows loaded and rows rejected per feed and table (null without monitoring)."
  value       = try(module.alarms[0].dashboard_name, null)
}
