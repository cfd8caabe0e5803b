# ---------------------------------------------------------------- functions
# One Lambda per function with its role, log group and trigger. Every role names
# exactly what its function touches: its buckets and prefixes, its queue, the data
# key, the Glue database, its secrets and its Data API statements.

locals {
  config = yamldecode(file(local.config_file))

  # Sources (fetch-api): the config's map name => {feed, schedule, ...}; none while
  # the config has no sources: section. try() rather than a conditional: an
  # empty and a non-empty list of sources have no common type for one.
  source_list = try([for k, v in local.config.sources : merge({ name = k }, v)], [])
  source_schedules = {
    for s in local.source_list : "fetch-${s.name}" => {
      schedule_expression = s.schedule
      timezone            = try(s.schedule_timezone, "UTC")
      payload             = jsonencode({ source = s.name })
    } if try(s.schedule, null) != null
  }

  # Where data lands and where fetch-api writes it: the feeds' prefixes.
  feed_prefixes = distinct([for f in values(try(local.config.feeds, {})) : f.prefix])

  lambda_zip_dir = coalesce(var.lambda_zip_dir, "${path.module}/../target/lambda")
  config_url     = "s3://${local.curated_bucket_name}/${local.config_key}"

  landing_arn = module.landing_bucket.arn
  curated_arn = module.curated_bucket.arn

  # fetch-api exists once the config has a source with a schedule; monitor-feeds always.
  deployed_functions = merge(
    local.function_names,
    length(local.source_schedules) > 0 ? { fetch_api = "fetch-api" } : {},
    length(local.job_list) > 0 ? { run_job = "run-job" } : {},
    { monitor_feeds = "monitor-feeds" },
  )

  # monitor-feeds' channels: the defaults and each feed's notify: override.
  feed_channels   = [for f in values(try(local.config.feeds, {})) : try(f.notify, {})]
  slack_secrets   = distinct([for s in concat([var.slack_webhook_secret_name], [for c in local.feed_channels : try(c.slack_secret, null)]) : s if s != null])
  feed_topic_arns = distinct([for c in local.feed_channels : c.sns_topic if try(c.sns_topic, null) != null])
  alerts_topic    = var.create_monitoring ? module.alarms[0].topic_arn : null
  monitor_topics  = concat(var.create_monitoring ? [local.alerts_topic] : [], local.feed_topic_arns)

  secret_arn = { for s in compact(concat([var.warehouse.password_secret], var.fetch_api_secrets, local.slack_secrets)) : s => (
    startswith(s, "arn:") ? s : "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${s}-??????"
  ) }

  # The Data API target: given, or the workgroup created here.
  data_api_target_arn = coalesce(var.redshift.data_api_target_arn, module.redshift.workgroup_arn, "none")
  data_api_enabled    = local.data_api_target_arn != "none"
  data_api_serverless = strcontains(local.data_api_target_arn, ":workgroup/")
  # The redshift driver's credentials, as the config file names them.
  redshift_secret_arn = try(local.config.warehouse.secret_arn, null)
  redshift_db_user    = try(local.config.warehouse.db_user, null)

  s3_read  = ["s3:GetObject", "s3:GetObjectVersion"]
  s3_write = ["s3:PutObject", "s3:AbortMultipartUpload"]

  list_statement = {
    for k, spec in {
      monitor_feeds       = { bucket = local.curated_arn, prefixes = ["_failures/", "_manifests/"] }
      register_partitions = { bucket = local.curated_arn, prefixes = ["tables/"] }
      load_warehouse      = { bucket = local.curated_arn, prefixes = ["tables/", "_manifests/"] }
      fetch_api           = { bucket = local.curated_arn, prefixes = ["_state/"] }
      } : k => {
      # Listing lets a missing object read as NotFound rather than AccessDenied.
      Sid       = "ListOwnPrefixes"
      Action    = ["s3:ListBucket"]
      Resource  = [spec.bucket]
      Condition = { StringLike = { "s3:prefix" = [for p in spec.prefixes : "${p}*"] } }
    }
  }

  # What grows with the feeds, 20 prefixes to a group: each group is one managed policy of the
  # function's role (IAM holds 6,144 characters in a managed policy, and only 10,240 in all of a
  # role's inline policies together, which about 140 feed prefixes would pass). Every prefix is
  # still named; a config with no feeds has no group, so no statement names nothing.
  feed_prefix_groups = chunklist(local.feed_prefixes, 20)
  function_statement_groups = {
    parse_file = [for g in local.feed_prefix_groups : [
      { Sid = "ListOwnPrefixes", Action = ["s3:ListBucket"], Resource = [local.landing_arn], Condition = { StringLike = { "s3:prefix" = [for p in g : "${p}*"] } } },
      { Sid = "ReadLandedFiles", Action = local.s3_read, Resource = [for p in g : "${local.landing_arn}/${p}*"] },
    ]]
    fetch_api = [for g in local.feed_prefix_groups : [
      { Sid = "WriteLanding", Action = local.s3_write, Resource = [for p in g : "${local.landing_arn}/${p}*"] },
    ]]
  }

  read_config = {
    Sid      = "ReadConfig"
    Action   = ["s3:GetObject"]
    Resource = ["${local.curated_arn}/${local.config_key}"]
  }

  # What a role needs to use the configured warehouse (load-warehouse, monitor-feeds): the
  # PostgreSQL password secret, or the Data API on its target with its credentials.
  warehouse_statements = concat(
    var.warehouse.password_secret != null ? [
      { Sid = "WarehousePassword", Action = ["secretsmanager:GetSecretValue"], Resource = [local.secret_arn[var.warehouse.password_secret]] },
    ] : [],
    [for s in [
      { Sid = "DataApiRun", Action = ["redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement"], Resource = [local.data_api_target_arn] },
      {
        # These take no resource: the condition limits them to the statements this role ran.
        Sid       = "DataApiOwnStatements"
        Action    = ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult", "redshift-data:CancelStatement"]
        Resource  = ["*"]
        Condition = { StringEquals = { "redshift-data:statement-owner-iam-userid" = ["$${aws:userid}"] } }
      },
      local.data_api_serverless ? {
        Sid      = "DataApiCredentials"
        Action   = ["redshift-serverless:GetCredentials"]
        Resource = [local.data_api_target_arn]
        } : {
        Sid      = "DataApiCredentials"
        Action   = ["redshift:GetClusterCredentialsWithIAM"]
        Resource = ["arn:${local.partition}:redshift:${local.region}:${local.account_id}:dbname:${element(split(":", local.data_api_target_arn), 6)}/*"]
      },
    ] : s if local.data_api_enabled],
    # driver: redshift with secret_arn: the Data API reads the database credentials as the caller.
    local.redshift_secret_arn != null ? [
      { Sid = "RedshiftCredentialsSecret", Action = ["secretsmanager:GetSecretValue"], Resource = [local.redshift_secret_arn] },
    ] : [],
    # driver: redshift with db_user on a provisioned cluster: temporary credentials for that user.
    local.redshift_db_user != null && local.data_api_enabled && !local.data_api_serverless ? [
      {
        Sid    = "RedshiftDbUserCredentials"
        Action = ["redshift:GetClusterCredentials"]
        Resource = [
          "arn:${local.partition}:redshift:${local.region}:${local.account_id}:dbuser:${element(split(":", local.data_api_target_arn), 6)}/${local.redshift_db_user}",
          "arn:${local.partition}:redshift:${local.region}:${local.account_id}:dbname:${element(split(":", local.data_api_target_arn), 6)}/*",
        ]
      },
    ] : [],
  )

  function_statements = {
    parse_file = [
      local.read_config,
      # Listing lets a missing map or record read as NotFound (its own Sid: ListOwnPrefixes names the landing prefixes).
      { Sid = "ListColumnMapsAndFailures", Action = ["s3:ListBucket"], Resource = [local.curated_arn], Condition = { StringLike = { "s3:prefix" = ["_columns/*", "_failures/*"] } } },
      { Sid = "WriteLake", Action = local.s3_write, Resource = [for p in ["tables/", "_manifests/", "_rejects/"] : "${local.curated_arn}/${p}*"] },
      # Parts wait under _staging/ while their file converts, then are copied under tables/ (CopyObject reads the source).
      { Sid = "StageParts", Action = concat(local.s3_write, local.s3_read, ["s3:DeleteObject"]), Resource = ["${local.curated_arn}/_staging/*"] },
      # The tables' column maps (read, then written conditionally) and the record of each failed message.
      { Sid = "ColumnMapsAndFailures", Action = concat(local.s3_read, local.s3_write), Resource = [for p in ["_columns/", "_failures/"] : "${local.curated_arn}/${p}*"] },
    ]
    register_partitions = [
      local.list_statement.register_partitions,
      { Sid = "ReadParts", Action = local.s3_read, Resource = ["${local.curated_arn}/tables/*"] },
      {
        Sid = "CatalogDatabase"
        Action = [
          "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
          "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition", "glue:BatchCreatePartition",
        ]
        Resource = [
          "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
          module.glue.arn,
          "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${module.glue.name}/*",
        ]
      },
    ]
    load_warehouse = concat(
      [
        local.read_config,
        local.list_statement.load_warehouse,
        { Sid = "ReadPartsAndManifests", Action = local.s3_read, Resource = ["${local.curated_arn}/tables/*", "${local.curated_arn}/_manifests/*"] },
        { Sid = "WriteRejectsAndCopyManifests", Action = local.s3_write, Resource = ["${local.curated_arn}/_rejects/*", "${local.curated_arn}/_copy/*"] },
      ],
      local.warehouse_statements,
      local.data_api_enabled ? [
        {
          # ListStatements takes no resource; the loader lists only its role's statements (RoleLevel), to find
          # a load's statement still running after a timed-out invocation instead of starting a duplicate.
          Sid      = "DataApiListStatements"
          Action   = ["redshift-data:ListStatements"]
          Resource = ["*"]
        },
      ] : [],
    )
    # The loader's warehouse access (it reads the ledger and stats and writes the alerts and
    # digest marks), the webhook secrets and the topics it publishes to; in the buckets, the
    # config and, for the digest's stuck files, parse-file's failure records and whether each
    # file has a manifest since.
    monitor_feeds = concat(
      [
        local.read_config,
        local.list_statement.monitor_feeds,
        { Sid = "ReadParseFailures", Action = local.s3_read, Resource = ["${local.curated_arn}/_failures/*"] },
      ],
      local.warehouse_statements,
      length(local.slack_secrets) > 0 ? [
        { Sid = "SlackWebhookSecrets", Action = ["secretsmanager:GetSecretValue"], Resource = [for s in local.slack_secrets : local.secret_arn[s]] },
      ] : [],
      length(local.monitor_topics) > 0 ? [
        { Sid = "PublishAlerts", Action = ["sns:Publish"], Resource = local.monitor_topics },
      ] : [],
    )
    fetch_api = concat(
      [
        local.read_config,
        local.list_statement.fetch_api,
        { Sid = "Cursors", Action = concat(local.s3_read, ["s3:PutObject"]), Resource = ["${local.curated_arn}/_state/*"] },
      ],
      length(var.fetch_api_secrets) > 0 ? [
        { Sid = "SourceSecrets", Action = ["secretsmanager:GetSecretValue"], Resource = [for s in var.fetch_api_secrets : local.secret_arn[s]] },
      ] : [],
    )
  }

  function_environment = {
    run_job = local.run_job_environment
    parse_file = {
      LANDFALL_CURATED_BUCKET = local.curated_bucket_name
      LANDFALL_CONFIG         = local.config_url
      LANDFALL_WORK_DIR       = "/tmp"
      LANDFALL_PARSE_THREADS  = var.functions.parse_file.threads
      # Its /tmp, which bounds a file's open parts (lambda::FunctionBudget).
      LANDFALL_EPHEMERAL_STORAGE_MB = tostring(var.functions.parse_file.ephemeral_storage_mb)
    }
    register_partitions = {
      LANDFALL_CURATED_BUCKET = local.curated_bucket_name
      LANDFALL_GLUE_DATABASE  = module.glue.name
    }
    load_warehouse = merge(
      {
        LANDFALL_CURATED_BUCKET = local.curated_bucket_name
        LANDFALL_CONFIG         = local.config_url
        LANDFALL_WORK_DIR       = "/tmp"
        # The Redshift driver stops waiting on a statement before the function times out.
        LANDFALL_STATEMENT_DEADLINE_SECONDS = tostring(max(30, var.functions.load_warehouse.timeout_seconds - 30))
      },
      var.warehouse.url != null ? { LANDFALL_WAREHOUSE_URL = var.warehouse.url } : {},
      var.warehouse.password_secret != null ? { LANDFALL_WAREHOUSE_PASSWORD_SECRET = var.warehouse.password_secret } : {},
    )
    fetch_api = {
      LANDFALL_CONFIG         = local.config_url
      LANDFALL_LANDING_BUCKET = local.landing_bucket_name
      LANDFALL_CURATED_BUCKET = local.curated_bucket_name
    }
    monitor_feeds = merge(
      {
        LANDFALL_CONFIG                     = local.config_url
        LANDFALL_CURATED_BUCKET             = local.curated_bucket_name
        LANDFALL_STATEMENT_DEADLINE_SECONDS = tostring(max(30, var.functions.monitor_feeds.timeout_seconds - 30))
      },
      var.warehouse.url != null ? { LANDFALL_WAREHOUSE_URL = var.warehouse.url } : {},
      var.warehouse.password_secret != null ? { LANDFALL_WAREHOUSE_PASSWORD_SECRET = var.warehouse.password_secret } : {},
      var.slack_webhook_secret_name != null ? { LANDFALL_SLACK_WEBHOOK_SECRET = var.slack_webhook_secret_name } : {},
      var.create_monitoring ? { LANDFALL_ALERTS_TOPIC_ARN = local.alerts_topic } : {},
    )
  }
}

# Failed asynchronous work: schedules Scheduler could not deliver, and scheduled
# invocations that failed after Lambda's own retries.
resource "aws_sqs_queue" "async_failures" {
  count = local.functions_enabled ? 1 : 0

  name                      = "${var.name_prefix}-async-failures-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

module "function" {
  source   = "./modules/function"
  for_each = local.functions_enabled ? local.deployed_functions : {}

  name                    = "${var.name_prefix}-${each.value}"
  description             = "landfall ${each.value}"
  zip_file                = "${local.lambda_zip_dir}/${each.value}/bootstrap.zip"
  environment             = local.function_environment[each.key]
  memory_mb               = var.functions[each.key].memory_mb
  ephemeral_storage_mb    = var.functions[each.key].ephemeral_storage_mb
  timeout_seconds         = var.functions[each.key].timeout_seconds
  reserved_concurrency    = var.functions[each.key].reserved_concurrency
  log_retention_days      = var.log_retention_days
  log_level               = var.log_level
  kms_key_arn             = local.kms_key_arn
  async_dead_letter_arn   = aws_sqs_queue.async_failures[0].arn
  policy_statements       = merge(local.function_statements, { run_job = local.run_job_statements })[each.key]
  policy_statement_groups = try(local.function_statement_groups[each.key], [])
  managed_policy_quota    = var.iam_managed_policies_per_role
  vpc                     = var.functions[each.key].vpc
  # A job runs up to 15 minutes and records its runs; Lambda's two automatic retries of a failed
  # one would run it again twice. Its failure goes to the async-failures queue and its alarm.
  async_retry_attempts = each.key == "run_job" ? 0 : null

  queue = contains(keys(module.queue), each.key) ? {
    arn                     = module.queue[each.key].arn
    batch_size              = var.functions[each.key].batch_size
    batching_window_seconds = var.functions[each.key].batching_window_seconds
    max_concurrency         = var.functions[each.key].max_concurrency
  } : null
}

# ---------------------------------------------------------------- schedules

module "schedules" {
  source = "./modules/schedules"
  count  = local.functions_enabled ? 1 : 0

  name_prefix = var.name_prefix
  schedules = merge(
    {
      for k, s in local.source_schedules : k => merge(s, { target_arn = module.function["fetch_api"].arn })
    },
    {
      for k, s in local.job_schedules : k => merge(s, { target_arn = module.function["run_job"].arn })
    },
    {
      monitor-feeds = {
        schedule_expression = var.monitor_schedule.schedule_expression
        timezone            = var.monitor_schedule.timezone
        target_arn          = module.function["monitor_feeds"].arn
        payload             = jsonencode({ monitor = "scheduled" })
      }
      repair-partitions = {
        schedule_expression = var.repair_schedule.schedule_expression
        timezone            = var.repair_schedule.timezone
        target_arn          = module.function["register_partitions"].arn
        payload             = jsonencode({ repair = { tables = "all", days = var.repair_schedule.days } })
      }
    },
  )
  dead_letter_arn           = aws_sqs_queue.async_failures[0].arn
  maximum_retry_attempts    = var.schedule_retry.maximum_retry_attempts
  maximum_event_age_seconds = var.schedule_retry.maximum_event_age_seconds
  kms_key_arn               = local.kms_key_arn
}

# ---------------------------------------------------------------- Redshift

module "redshift" {
  source = "./modules/redshift"

  name_prefix        = var.name_prefix
  curated_bucket_arn = module.curated_bucket.arn
  copy_prefixes      = var.redshift.copy_prefixes
  external_ids       = var.redshift.copy_role_external_ids
  unload_prefixes    = length(local.job_list) > 0 ? local.unload_prefixes : []
  kms_key_arn        = local.kms_key_arn
  serverless         = var.redshift.serverless
}

# ---------------------------------------------------------------- alarms

module "alarms" {
  source = "./modules/alarms"
  count  = var.create_monitoring ? 1 : 0

  name_prefix         = var.name_prefix
  kms_key_arn         = local.kms_key_arn
  email_subscriptions = distinct(concat(var.alarm_emails, var.alert_email != null ? [var.alert_email] : []))
  functions           = [for f in module.function : f.function_name]
  queues = {
    for k, q in module.queue : k => {
      queue_name         = q.name
      max_age_seconds    = var.functions[k].max_message_age_seconds
      dead_letter_queues = [q.dlq_name]
    }
  }
  dead_letter_queues = [for q in aws_sqs_queue.async_failures : q.name]
}

# The alerts topic invokes monitor-feeds, which forwards each alarm to Slack. The
# filter keeps out what monitor-feeds publishes itself (its messages carry the
# landfall_source attribute; CloudWatch's carry none), so nothing loops.
resource "aws_sns_topic_subscription" "monitor_alarms" {
  count = local.functions_enabled && var.create_monitoring ? 1 : 0

  topic_arn           = local.alerts_topic
  protocol            = "lambda"
  endpoint            = module.function["monitor_feeds"].arn
  filter_policy_scope = "MessageAttributes"
  filter_policy       = jsonencode({ landfall_source = [{ exists = false }] })
}

resource "aws_lambda_permission" "monitor_alarms" {
  count = local.functions_enabled && var.create_monitoring ? 1 : 0

  statement_id  = "AlertsTopicInvokes"
  action        = "lambda:InvokeFunction"
  function_name = module.function["monitor_feeds"].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = local.alerts_topic
}
