# Values for the local stack (infra/stack up): moto on loopback + PostgreSQL.
# infra/stack adds -var config_file=<repo>/config/landfall.yaml, and points the
# provider at moto with a generated override in its staged copy.
name_prefix = "landfall-local"
aws_region  = "us-east-1"

# moto cannot run Lambda without Docker; a local pump feeds the handlers instead.
create_functions = false

# Alarms, SNS and the dashboard watch deployed functions; none run locally.
create_monitoring = false

# Throwaway buckets; `terraform destroy` may empty them.
force_destroy_buckets = true

# Failed messages come back after 5 s instead of 6 x the function timeout.
visibility_timeout_override_seconds = 5

# Fast tests: dead-letter after 3 receives; short batching windows (the local pump
# waits up to the window to fill a batch, as the event source mapping does).
functions = {
  parse_file          = { max_receive_count = 3 }
  register_partitions = { max_receive_count = 3, batching_window_seconds = 1 }
  load_warehouse      = { max_receive_count = 3, batching_window_seconds = 2 }
}

# SSE-KMS works on moto (it keeps the key id; objects are not really encrypted).
kms_enabled = true

# moto evaluates a bucket-policy Deny whose condition operator it does not know
# (Bool aws:SecureTransport) as always matching, so the TLS-only policy would deny
# every request. Production keeps it (the default).
require_tls = false

tags = {
  Environment = "local"
}
