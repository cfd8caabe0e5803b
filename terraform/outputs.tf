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
      visibility_timeout_seconds = module.queue[k].visibility_timeout_seconds
      max_receive_count          = module.queue[k].max_receive_count
      batch_size                 = var.functions[k].batch_size
      batching_window_seconds    = var.functions[k].batching_window_seconds
    }
  }
}
