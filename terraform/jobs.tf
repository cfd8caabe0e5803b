# ---------------------------------------------------------------- jobs
# run-job (scheduled warehouse jobs: transforms, exports, archives) exists once
# the config has a jobs: section: one schedule per job with a schedule, and a
# role that reads the config, writes exports/ and archive/ in the curated bucket,
# registers archive_* tables in Glue, and reaches the warehouse as load-warehouse
# does. UNLOAD writes through the COPY role, which gets exports/ and archive/ only.

locals {
  # try() rather than a conditional: an empty and a non-empty list have no common type.
  job_list = try([for k, v in local.config.jobs : merge({ name = k }, v)], [])
  job_schedules = {
    for j in local.job_list : "job-${j.name}" => {
      schedule_expression = j.schedule
      timezone            = "UTC"
      payload             = jsonencode({ job = j.name })
    } if try(j.schedule, null) != null
  }
  unload_prefixes = ["archive/", "exports/"]

  # The warehouse grants run-job shares with load-warehouse, picked by name.
  warehouse_sids = [
    "WarehousePassword", "DataApiRun", "DataApiOwnStatements", "DataApiListStatements", "DataApiCredentials",
    "RedshiftCredentialsSecret", "RedshiftDbUserCredentials",
  ]

  run_job_statements = concat(
    [
      local.read_config,
      {
        Sid       = "ListOwnPrefixes"
        Action    = ["s3:ListBucket"]
        Resource  = [local.curated_arn]
        Condition = { StringLike = { "s3:prefix" = [for p in local.unload_prefixes : "${p}*"] } }
      },
      {
        # Exports and archives are written, read back (UNLOAD manifests, presigned links) and a re-run's stale parts deleted.
        Sid      = "ExportsAndArchive"
        Action   = concat(local.s3_read, local.s3_write, ["s3:DeleteObject"])
        Resource = [for p in local.unload_prefixes : "${local.curated_arn}/${p}*"]
      },
      {
        Sid    = "ArchiveCatalog"
        Action = ["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "glue:BatchCreatePartition"]
        Resource = [
          "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
          module.glue.arn,
          "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${module.glue.name}/archive_*",
        ]
      },
    ],
    [for s in local.function_statements.load_warehouse : s if contains(local.warehouse_sids, s.Sid)],
    var.jobs_slack_webhook_secret != null ? [
      {
        Sid      = "SlackWebhook"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = [startswith(var.jobs_slack_webhook_secret, "arn:") ? var.jobs_slack_webhook_secret : "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${var.jobs_slack_webhook_secret}-??????"]
      },
    ] : [],
  )

  run_job_environment = merge(
    {
      LANDFALL_CONFIG         = local.config_url
      LANDFALL_CURATED_BUCKET = local.curated_bucket_name
      LANDFALL_GLUE_DATABASE  = module.glue.name
      LANDFALL_WORK_DIR       = "/tmp"
    },
    var.warehouse.url != null ? { LANDFALL_WAREHOUSE_URL = var.warehouse.url } : {},
    var.warehouse.password_secret != null ? { LANDFALL_WAREHOUSE_PASSWORD_SECRET = var.warehouse.password_secret } : {},
    var.jobs_slack_webhook_secret != null ? { LANDFALL_SLACK_WEBHOOK_SECRET = var.jobs_slack_webhook_secret } : {},
  )
}
