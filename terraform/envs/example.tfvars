# Example production settings. Copy to envs/<env>.tfvars and adjust, then:
#   terraform -chdir=terraform init
#   terraform -chdir=terraform apply -var-file=envs/<env>.tfvars
# (configure a remote state backend for shared environments).

# Every resource name starts with this; the Glue database is "landfall_prod".
name_prefix = "landfall-prod"
aws_region  = "eu-west-1"

# Bucket names are global: set explicit ones if "<name_prefix>-landing" /
# "<name_prefix>-curated" are taken.
# landing_bucket_name = "acme-landfall-prod-landing"
# curated_bucket_name = "acme-landfall-prod-curated"

# The config the functions read at cold start (defaults to ../config/landfall.yaml).
# config_file = "../config/landfall.yaml"

# SSE-KMS with a key created here; or bring your own key:
kms_enabled = true
# kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"

# Never let terraform delete buckets that still hold data.
force_destroy_buckets = false

# Landing: raw files stay, moving to cheaper storage as they age.
landing_lifecycle = {
  standard_ia_after_days = 30
  glacier_ir_after_days  = 180
  # noncurrent_version_expiration_days = 365
}

# Curated: Parquet is rewritten in place only by replays; drop old versions after 30 days.
curated_lifecycle = {
  noncurrent_version_expiration_days = 30
}

# Per-function settings; omitted attributes keep their defaults (see variables.tf).
# Queue visibility timeout = 6 x timeout_seconds.
functions = {
  parse_file = {
    timeout_seconds = 300
    memory_mb       = 2048
    batch_size      = 5
    max_concurrency = 20
  }
  register_partitions = {
    batch_size              = 500 # one table's parts in one batch: one GetTable, one BatchCreatePartition per 100
    batching_window_seconds = 10
  }
  load_warehouse = {
    timeout_seconds         = 600
    batch_size              = 200
    batching_window_seconds = 60 # collect manifests, load each table once per batch
    max_concurrency         = 2
    max_receive_count       = 5
  }
}

create_functions = true

# Built by `cargo lambda build --release --arm64 --output-format zip` (the default
# is the repo's target/lambda); <dir>/<function>/bootstrap.zip.
# lambda_zip_dir = "/builds/landfall/target/lambda"

log_retention_days = 365

# Alarms (dead-letter queues, errors, throttles, oldest message) go to this topic.
alarm_emails = ["data-platform-oncall@example.com"]

# Daily catalog repair: every table, the last 3 days.
repair_schedule = {
  schedule_expression = "cron(15 3 * * ? *)"
  days                = 3
}

# load-warehouse's connection (overrides the config's warehouse: section). The
# password lives in Secrets Manager; the loader may read only this secret.
warehouse = {
  url             = "postgres://loader@warehouse.internal:5432/analytics?sslmode=require"
  password_secret = "landfall-prod/warehouse"
}

# Secrets named by the config's sources (fetch-api may read only these).
# fetch_api_secrets = ["landfall-prod/weather-api"]

# The Slack incoming-webhook URL run-job posts export and failure messages to.
# jobs_slack_webhook_secret = "landfall-prod/slack-webhook"

# Redshift: the COPY role is always created (output redshift_copy_role_arn).
# Let the loader use the Data API on a cluster or workgroup, or create a
# Serverless namespace and workgroup here.
# redshift = {
#   data_api_target_arn = "arn:aws:redshift:eu-west-1:123456789012:cluster:analytics"
#   serverless          = { create = true, base_capacity_rpus = 8 }
#   # COPY and UNLOAD through the VPC instead: the subnets and an S3 gateway endpoint on their route tables.
#   # serverless = { create = true, enhanced_vpc_routing = true, subnet_ids = ["subnet-..."],
#   #                s3_endpoint = { vpc_id = "vpc-...", route_table_ids = ["rtb-..."] } }
# }
# The first deploy (grants, the COPY role, the first file): docs/first-deploy.md.

tags = {
  Environment = "prod"
  Owner       = "data-platform"
}
