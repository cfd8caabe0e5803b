data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  config_file = coalesce(var.config_file, "${path.module}/../config/landfall.yaml")
  config_key  = "_config/landfall.yaml"

  landing_bucket_name = coalesce(var.landing_bucket_name, "${var.name_prefix}-landing")
  curated_bucket_name = coalesce(var.curated_bucket_name, "${var.name_prefix}-curated")
  glue_database_name  = replace(lower(var.name_prefix), "-", "_")

  create_kms_key = var.kms_enabled && var.kms_key_arn == null
  kms_key_arn    = var.kms_enabled ? coalesce(var.kms_key_arn, one(aws_kms_key.data[*].arn)) : null

  # Function key (underscores, as in var.functions) => public name (hyphens, as in
  # functions/<name>/ and the `queues` output).
  function_names = {
    parse_file          = "parse-file"
    register_partitions = "register-partitions"
    load_warehouse      = "load-warehouse"
  }

  # SQS visibility: AWS asks for at least 6 x the function timeout so a message is
  # not redelivered while a (retried) invocation still works on it. The local stack
  # overrides it with a few seconds so failed messages come back quickly in tests.
  visibility_timeout = {
    for k, f in var.functions : k => coalesce(var.visibility_timeout_override_seconds, 6 * f.timeout_seconds)
  }

  # Whether Lambda functions and event source mappings are managed here (false in
  # the local stack: a pump delivers the queues' messages to the handlers instead).
  functions_enabled = var.create_functions
}

# ---------------------------------------------------------------- encryption

resource "aws_kms_key" "data" {
  count = local.create_kms_key ? 1 : 0

  description             = "${var.name_prefix}: landing and curated buckets, logs, alarms"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days

  # IAM policies grant the functions and the COPY role their use of the key (the
  # account statement delegates to IAM); the services below encrypt on their own
  # behalf and need the key policy itself: CloudWatch Logs for the functions' log
  # groups, CloudWatch to publish alarms to the encrypted SNS topic.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersThroughIAM"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "LogsEncryptFunctionLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name_prefix}-*" }
        }
      },
      {
        Sid       = "CloudWatchPublishesAlarms"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
}

resource "aws_kms_alias" "data" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${var.name_prefix}-data"
  target_key_id = aws_kms_key.data[0].key_id
}

# ---------------------------------------------------------------- buckets

module "landing_bucket" {
  source = "./modules/buckets"

  bucket_name             = local.landing_bucket_name
  force_destroy           = var.force_destroy_buckets
  kms_key_arn             = local.kms_key_arn
  deny_insecure_transport = var.require_tls
  transitions = [
    { days = var.landing_lifecycle.standard_ia_after_days, storage_class = "STANDARD_IA" },
    { days = var.landing_lifecycle.glacier_ir_after_days, storage_class = "GLACIER_IR" },
  ]
  abort_incomplete_multipart_after_days = var.landing_lifecycle.abort_incomplete_multipart_after_days
  noncurrent_version_expiration_days    = var.landing_lifecycle.noncurrent_version_expiration_days
  tags                                  = { Zone = "landing" }
}

module "curated_bucket" {
  source = "./modules/buckets"

  bucket_name                           = local.curated_bucket_name
  force_destroy                         = var.force_destroy_buckets
  kms_key_arn                           = local.kms_key_arn
  deny_insecure_transport               = var.require_tls
  abort_incomplete_multipart_after_days = var.curated_lifecycle.abort_incomplete_multipart_after_days
  noncurrent_version_expiration_days    = var.curated_lifecycle.noncurrent_version_expiration_days
  # The Redshift driver's COPY manifests are needed only while their load runs;
  # parse-file's staged parts only while their file converts (a killed attempt's stay behind).
  expire_prefixes = { "_copy/" = 7, "_staging/" = 1 }
  tags            = { Zone = "curated" }
}

# ---------------------------------------------------------------- queues

# Each queue accepts S3 notifications only from the bucket that feeds it.
locals {
  queue_source_bucket_arn = {
    parse_file          = module.landing_bucket.arn
    register_partitions = module.curated_bucket.arn
    load_warehouse      = module.curated_bucket.arn
  }
}

module "queue" {
  source   = "./modules/queue"
  for_each = local.function_names

  name                       = "${var.name_prefix}-${each.value}"
  visibility_timeout_seconds = local.visibility_timeout[each.key]
  max_receive_count          = var.functions[each.key].max_receive_count
  message_retention_seconds  = var.message_retention_seconds
  source_bucket_arns         = [local.queue_source_bucket_arn[each.key]]
  source_account_id          = data.aws_caller_identity.current.account_id
}

# ---------------------------------------------------------------- notifications
# One aws_s3_bucket_notification per bucket (S3 keeps a single notification
# configuration per bucket). The queues' policies must exist first: S3 test-sends
# to each destination when the configuration is put.

resource "aws_s3_bucket_notification" "landing" {
  bucket = module.landing_bucket.id

  queue {
    id        = "parse-file"
    queue_arn = module.queue["parse_file"].arn
    events    = ["s3:ObjectCreated:*"]
  }

  depends_on = [module.queue, module.landing_bucket]
}

resource "aws_s3_bucket_notification" "curated" {
  bucket = module.curated_bucket.id

  queue {
    id            = "register-partitions"
    queue_arn     = module.queue["register_partitions"].arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "tables/"
    filter_suffix = ".parquet"
  }

  queue {
    id            = "load-warehouse"
    queue_arn     = module.queue["load_warehouse"].arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "_manifests/"
    filter_suffix = ".json"
  }

  depends_on = [module.queue, module.curated_bucket]
}

# ---------------------------------------------------------------- config

# The functions read the config from here at cold start. The curated notifications
# only watch tables/ and _manifests/, so this upload triggers nothing.
resource "aws_s3_object" "config" {
  bucket       = module.curated_bucket.id
  key          = local.config_key
  source       = local.config_file
  content_type = "application/yaml"

  # source_hash rather than etag: with SSE-KMS the stored ETag is not the MD5 of
  # the content, so `etag = filemd5(...)` would show a diff on every plan.
  source_hash = filemd5(local.config_file)

  # Upload only once the bucket's encryption/policy are in place.
  depends_on = [module.curated_bucket]
}

# ---------------------------------------------------------------- catalog

module "glue" {
  source = "./modules/glue"

  database_name = local.glue_database_name
  description   = "${var.name_prefix}: landfall Parquet lake (s3://${local.curated_bucket_name}/tables/)"
  location_uri  = "s3://${module.curated_bucket.id}/tables/"
}

