# The production wiring, planned against a mocked AWS provider: every function's
# trigger and dead-letter path, the notification filters, the queue timeouts and
# what each role may touch. Run by infra/test (terraform test in a staged copy).

mock_provider "aws" {
  override_during = plan

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
      arn        = "arn:aws:iam::123456789012:user/test"
      user_id    = "AIDATEST"
    }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      key_id = "11111111-2222-3333-4444-555555555555"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:t-alarms" }
  }
  mock_resource "aws_scheduler_schedule_group" {
    defaults = { arn = "arn:aws:scheduler:us-east-1:123456789012:schedule-group/t" }
  }
  mock_resource "aws_scheduler_schedule" {
    defaults = { arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/t/mock" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_redshiftserverless_workgroup" {
    defaults = { arn = "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/0000-lft" }
  }
  mock_resource "aws_lambda_event_source_mapping" {
    defaults = { uuid = "00000000-0000-0000-0000-000000000000" }
  }
}

# ARNs and names the mocks give the buckets, queues and functions, one each, so a
# policy that names another function's queue or the wrong bucket is caught.
override_resource {
  override_during = plan
  target          = module.landing_bucket.aws_s3_bucket.this
  values          = { id = "lft-landing", arn = "arn:aws:s3:::lft-landing" }
}
override_resource {
  override_during = plan
  target          = module.curated_bucket.aws_s3_bucket.this
  values          = { id = "lft-curated", arn = "arn:aws:s3:::lft-curated" }
}
override_resource {
  override_during = plan
  target          = module.glue.aws_glue_catalog_database.this
  values          = { arn = "arn:aws:glue:us-east-1:123456789012:database/lft" }
}
override_resource {
  override_during = plan
  target          = module.queue["parse_file"].aws_sqs_queue.this
  values          = { arn = "arn:aws:sqs:us-east-1:123456789012:lft-parse-file", url = "https://sqs.us-east-1.amazonaws.com/123456789012/lft-parse-file" }
}
override_resource {
  override_during = plan
  target          = module.queue["parse_file"].aws_sqs_queue.dlq
  values          = { arn = "arn:aws:sqs:us-east-1:123456789012:lft-parse-file-dlq", url = "https://sqs.us-east-1.amazonaws.com/123456789012/lft-parse-file-dlq" }
}
override_resource {
  override_during = plan
  target          = module.queue["register_partitions"].aws_sqs_queue.this
  values          = { arn = "arn:aws:sqs:us-east-1:123456789012:lft-register-partitions", url = "https://sqs.us-east-1.amazonaws.com/123456789012/lft-register-partitions" }
}
override_resource {
  override_during = plan
  target          = module.queue["register_partitions"].aws_sqs_queue.dlq
  values          = { arn = "arn:aws:sqs:us-east-1:123456789012:lft-register-partitions-dlq", url = "https://sqs.us-east-1.amazonaws.com/123456789012/lft-register-partitions-dlq" }
}
override_resource {
  override_during = plan
  target          = module.queue["load_warehouse"].aws_sqs_queue.this
  values          = { arn = "arn:aws:sqs:us-east-1:123456789012:lft-load-warehouse", url = "https://sqs.us-east-1.amazonaws.com/123456789012/lft-load-warehouse" }
}
override_resource {
  override_during = plan
  target          = module.queue["load_warehouse"].aws_sqs_queue.dlq
  values          = { arn = "arn:aws:sqs:us-east-1:123456789012:lft-load-warehouse-dlq", url = "https://sqs.us-east-1.amazonaws.com/123456789012/lft-load-warehouse-dlq" }
}
override_resource {
  override_during = plan
  target          = module.function["parse_file"].aws_lambda_function.this
  values          = { arn = "arn:aws:lambda:us-east-1:123456789012:function:lft-parse-file" }
}
override_resource {
  override_during = plan
  target          = module.function["register_partitions"].aws_lambda_function.this
  values          = { arn = "arn:aws:lambda:us-east-1:123456789012:function:lft-register-partitions" }
}
override_resource {
  override_during = plan
  target          = module.function["load_warehouse"].aws_lambda_function.this
  values          = { arn = "arn:aws:lambda:us-east-1:123456789012:function:lft-load-warehouse" }
}
override_resource {
  override_during = plan
  target          = module.function["fetch_api"].aws_lambda_function.this
  values          = { arn = "arn:aws:lambda:us-east-1:123456789012:function:lft-fetch-api" }
}
override_resource {
  override_during = plan
  target          = module.function["run_job"].aws_lambda_function.this
  values          = { arn = "arn:aws:lambda:us-east-1:123456789012:function:lft-run-job" }
}
override_resource {
  override_during = plan
  target          = module.function["monitor_feeds"].aws_lambda_function.this
  values          = { arn = "arn:aws:lambda:us-east-1:123456789012:function:lft-monitor-feeds", function_name = "lft-monitor-feeds" }
}
override_resource {
  override_during = plan
  target          = aws_sqs_queue.async_failures
  values          = { arn = "arn:aws:sqs:us-east-1:123456789012:lft-async-failures-dlq" }
}

variables {
  name_prefix    = "lft"
  lambda_zip_dir = "tests/fixtures/lambda"
  # config_file: infra/test passes the repo's config/landfall.yaml with -var.
}

run "every_queue_triggers_its_function_with_partial_batch_responses" {
  command = plan

  assert {
    condition = alltrue([for k in ["parse_file", "register_partitions", "load_warehouse"] :
      module.function[k].event_source_mapping.event_source_arn == module.queue[k].arn
    ])
    error_message = "each function's event source mapping must read its own queue"
  }
  assert {
    condition = alltrue([for k in ["parse_file", "register_partitions", "load_warehouse"] :
      module.function[k].event_source_mapping.function_response_types == toset(["ReportBatchItemFailures"])
    ])
    error_message = "every event source mapping must report batch item failures"
  }
  assert {
    condition = alltrue([for k in ["parse_file", "register_partitions", "load_warehouse"] :
      module.function[k].event_source_mapping.batch_size == var.functions[k].batch_size &&
      module.function[k].event_source_mapping.maximum_batching_window_in_seconds == var.functions[k].batching_window_seconds &&
      module.function[k].event_source_mapping.maximum_concurrency == var.functions[k].max_concurrency
    ])
    error_message = "batch size, batching window and maximum concurrency come from var.functions"
  }
}

run "every_work_queue_dead_letters_after_max_receive_count" {
  command = plan

  variables {
    functions = { load_warehouse = { max_receive_count = 7 } }
  }

  assert {
    condition = alltrue([for k in ["parse_file", "register_partitions", "load_warehouse"] :
      jsondecode(module.queue[k].redrive_policy).deadLetterTargetArn == module.queue[k].dlq_arn &&
      jsondecode(module.queue[k].redrive_policy).maxReceiveCount == var.functions[k].max_receive_count
    ])
    error_message = "every work queue must redrive to its own dead-letter queue after max_receive_count receives"
  }
  assert {
    condition     = jsondecode(module.queue["load_warehouse"].redrive_policy).maxReceiveCount == 7
    error_message = "max_receive_count must follow var.functions"
  }
}

run "visibility_timeout_is_six_times_the_function_timeout" {
  command = plan

  variables {
    functions = { parse_file = { timeout_seconds = 120 }, load_warehouse = { timeout_seconds = 900 } }
  }

  assert {
    condition     = output.queues["parse-file"].visibility_timeout_seconds == 720 && output.queues["load-warehouse"].visibility_timeout_seconds == 5400
    error_message = "queue visibility timeout must be 6 x the function timeout"
  }
  assert {
    condition = alltrue([for k in ["parse_file", "register_partitions", "load_warehouse"] :
      module.queue[k].visibility_timeout_seconds >= 6 * module.function[k].settings.timeout
    ])
    error_message = "no queue may redeliver a message while its function can still be working on it"
  }
}

run "parse_file_is_told_the_ephemeral_storage_it_gets" {
  command = plan

  variables {
    functions = { parse_file = { ephemeral_storage_mb = 2048 } }
  }

  assert {
    condition = (module.function["parse_file"].settings.ephemeral_storage_mb == 2048 &&
      module.function["parse_file"].settings.environment.LANDFALL_EPHEMERAL_STORAGE_MB == "2048" &&
    module.function["load_warehouse"].settings.ephemeral_storage_mb == 512)
    error_message = "parse-file's /tmp is what the variable says, and parse-file bounds its scratch by it"
  }
}

run "functions_run_the_cargo_lambda_zip_on_al2023_arm64" {
  command = plan

  assert {
    condition = alltrue([for k, n in { parse_file = "parse-file", register_partitions = "register-partitions", load_warehouse = "load-warehouse" } :
      module.function[k].settings.runtime == "provided.al2023" &&
      module.function[k].settings.architectures == tolist(["arm64"]) &&
      module.function[k].settings.filename == "tests/fixtures/lambda/${n}/bootstrap.zip"
    ])
    error_message = "each function runs target/lambda/<name>/bootstrap.zip on provided.al2023, arm64"
  }
  assert {
    condition     = alltrue([for f in module.function : f.settings.log_retention_in_days == 365])
    error_message = "each function has a log group with the configured retention"
  }
  assert {
    condition     = alltrue([for f in module.function : f.settings.application_log_level == "INFO" && f.settings.environment.RUST_LOG == "info"])
    error_message = "at the default level INFO, Lambda and the functions filter alike"
  }
  assert {
    condition     = alltrue([for f in module.function : f.settings.dead_letter_target == "arn:aws:sqs:us-east-1:123456789012:lft-async-failures-dlq"])
    error_message = "failed asynchronous invocations must land in the async-failures dead-letter queue"
  }
}

run "functions_read_the_config_object_named_in_their_environment" {
  command = plan

  assert {
    condition = alltrue([for k in ["parse_file", "load_warehouse"] :
      module.function[k].settings.environment["LANDFALL_CONFIG"] == "s3://lft-curated/_config/landfall.yaml"
    ])
    error_message = "LANDFALL_CONFIG must name the uploaded config object (no version: a new upload is read at the next cold start)"
  }
  assert {
    condition     = module.function["register_partitions"].settings.environment == tomap({ LANDFALL_CURATED_BUCKET = "lft-curated", LANDFALL_GLUE_DATABASE = "lft", RUST_LOG = "info" })
    error_message = "register-partitions needs the curated bucket and the Glue database"
  }
  assert {
    condition     = aws_s3_object.config.key == "_config/landfall.yaml" && aws_s3_object.config.bucket == "lft-curated"
    error_message = "the config is uploaded to the curated bucket under _config/"
  }
}

run "curated_notifications_do_not_overlap" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for a in aws_s3_bucket_notification.curated.queue : [
        for b in aws_s3_bucket_notification.curated.queue : a.id == b.id || !(
          (startswith(a.filter_prefix, b.filter_prefix) || startswith(b.filter_prefix, a.filter_prefix)) &&
          (endswith(a.filter_suffix, b.filter_suffix) || endswith(b.filter_suffix, a.filter_suffix))
        )
      ]
    ]))
    error_message = "two curated notifications match the same keys: S3 refuses overlapping filters"
  }
  assert {
    condition = (
      one([for q in aws_s3_bucket_notification.curated.queue : q.queue_arn if q.id == "register-partitions"]) == module.queue["register_partitions"].arn &&
      one([for q in aws_s3_bucket_notification.curated.queue : q.queue_arn if q.id == "load-warehouse"]) == module.queue["load_warehouse"].arn &&
      one(aws_s3_bucket_notification.landing.queue).queue_arn == module.queue["parse_file"].arn
    )
    error_message = "each bucket notifies the queue of the function that handles its objects"
  }
}

run "buckets_are_private_and_tls_only" {
  command = plan

  assert {
    condition = alltrue([for b in [module.landing_bucket, module.curated_bucket] :
      alltrue(values(b.public_access_block))
    ])
    error_message = "both buckets must block every kind of public access"
  }
  assert {
    condition = alltrue([for b in [module.landing_bucket, module.curated_bucket] :
      anytrue([for st in jsondecode(b.policy).Statement :
        st.Effect == "Deny" && st.Principal == "*" && st.Action == "s3:*" &&
        st.Condition.Bool["aws:SecureTransport"] == "false"
      ])
    ])
    error_message = "both buckets must deny requests without TLS"
  }
  assert {
    condition     = module.landing_bucket.sse_algorithm == "aws:kms" && module.curated_bucket.sse_algorithm == "aws:kms"
    error_message = "both buckets are encrypted with the customer-managed key"
  }
}

# Each role's resources, as exact ARNs or "prefix*" patterns: a policy naming
# anything else (another function's queue, the other bucket, a wildcard) fails.
run "every_function_policy_names_only_its_own_resources" {
  command = plan

  variables {
    config_file       = "tests/fixtures/with-sources.yaml"
    warehouse         = { url = "postgres://loader@db.internal:5432/analytics", password_secret = "lft/warehouse" }
    fetch_api_secrets = ["lft/weather-api"]
    redshift = {
      data_api_target_arn = "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/0000-wg"
    }
  }

  assert {
    condition = alltrue(flatten([
      for k, allowed in {
        parse_file = [
          "arn:aws:s3:::lft-landing", "arn:aws:s3:::lft-landing/orders/*", "arn:aws:s3:::lft-landing/api/weather/*",
          "arn:aws:s3:::lft-curated/_config/landfall.yaml",
          "arn:aws:s3:::lft-curated/tables/*", "arn:aws:s3:::lft-curated/_manifests/*", "arn:aws:s3:::lft-curated/_rejects/*",
          "arn:aws:s3:::lft-curated/_staging/*",
          "arn:aws:s3:::lft-curated", "arn:aws:s3:::lft-curated/_columns/*", "arn:aws:s3:::lft-curated/_failures/*",
          "arn:aws:sqs:us-east-1:123456789012:lft-parse-file",
          "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/lft-parse-file:*",
        ]
        register_partitions = [
          "arn:aws:s3:::lft-curated", "arn:aws:s3:::lft-curated/tables/*",
          "arn:aws:glue:us-east-1:123456789012:catalog", "arn:aws:glue:us-east-1:123456789012:database/lft",
          "arn:aws:glue:us-east-1:123456789012:table/lft/*",
          "arn:aws:sqs:us-east-1:123456789012:lft-register-partitions",
          "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/lft-register-partitions:*",
        ]
        load_warehouse = [
          "arn:aws:s3:::lft-curated", "arn:aws:s3:::lft-curated/_config/landfall.yaml",
          "arn:aws:s3:::lft-curated/tables/*", "arn:aws:s3:::lft-curated/_manifests/*",
          "arn:aws:s3:::lft-curated/_rejects/*", "arn:aws:s3:::lft-curated/_copy/*",
          "arn:aws:secretsmanager:us-east-1:123456789012:secret:lft/warehouse-??????",
          "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/0000-wg",
          "arn:aws:sqs:us-east-1:123456789012:lft-load-warehouse",
          "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/lft-load-warehouse:*",
        ]
        fetch_api = [
          "arn:aws:s3:::lft-curated", "arn:aws:s3:::lft-curated/_config/landfall.yaml", "arn:aws:s3:::lft-curated/_state/*",
          "arn:aws:s3:::lft-landing/orders/*", "arn:aws:s3:::lft-landing/api/weather/*",
          "arn:aws:secretsmanager:us-east-1:123456789012:secret:lft/weather-api-??????",
          "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/lft-fetch-api:*",
        ]
        } : [
        for st in jsondecode(module.function[k].policy).Statement : [
          for r in st.Resource : contains(concat(allowed, [
            "arn:aws:sqs:us-east-1:123456789012:lft-async-failures-dlq",
            "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
          ]), r) || (r == "*" && contains(["DataApiOwnStatements", "DataApiListStatements"], st.Sid))
        ]
      ]
    ]))
    error_message = "a function's policy names a resource that is not its own"
  }
  assert {
    condition = alltrue([for st in jsondecode(module.function["load_warehouse"].policy).Statement :
      st.Condition.StringEquals["redshift-data:statement-owner-iam-userid"] == ["$${aws:userid}"] if contains(st.Resource, "*") && st.Sid != "DataApiListStatements"
    ])
    error_message = "the only wildcard resource is the Data API statements the role itself ran"
  }
  assert {
    condition = alltrue([for k in ["parse_file", "register_partitions", "load_warehouse", "fetch_api"] :
      alltrue([for st in jsondecode(module.function[k].policy).Statement : st.Effect == "Allow" && !anytrue([for a in st.Action : endswith(a, ":*")])])
    ])
    error_message = "no policy grants a whole service"
  }
}

run "schedules_one_per_source_and_the_daily_repair" {
  command = plan

  variables {
    config_file = "tests/fixtures/with-sources.yaml"
  }

  assert {
    condition     = keys(module.schedules[0].schedules) == ["fetch-exchange_rates", "fetch-weather", "monitor-feeds", "repair-partitions"]
    error_message = "one schedule per source in the config, plus the monitor and the partition repair"
  }
  assert {
    condition = (
      module.schedules[0].schedules["fetch-weather"].schedule_expression == "rate(1 hour)" &&
      jsondecode(module.schedules[0].schedules["fetch-weather"].input) == { source = "weather" } &&
      module.schedules[0].schedules["fetch-weather"].target_arn == module.function["fetch_api"].arn
    )
    error_message = "a source's schedule invokes fetch-api with {\"source\": NAME} at the configured schedule"
  }
  assert {
    condition = (
      module.schedules[0].schedules["repair-partitions"].target_arn == module.function["register_partitions"].arn &&
      jsondecode(module.schedules[0].schedules["repair-partitions"].input) == { repair = { tables = "all", days = 3 } }
    )
    error_message = "the daily repair invokes register-partitions for every table, the last 3 days"
  }
  assert {
    condition = alltrue([for s in values(module.schedules[0].schedules) :
      s.dead_letter_arn == aws_sqs_queue.async_failures[0].arn && s.retry_policy.maximum_retry_attempts == 3
    ])
    error_message = "every schedule retries and then dead-letters"
  }
  assert {
    condition     = module.function["fetch_api"].event_source_mapping == null
    error_message = "fetch-api is invoked by its schedules only"
  }
  assert {
    condition = jsondecode(module.schedules[0].policy).Statement == [
      { Sid = "InvokeTargets", Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = [module.function["fetch_api"].arn, module.function["monitor_feeds"].arn, module.function["register_partitions"].arn] },
      { Sid = "DeadLetter", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [aws_sqs_queue.async_failures[0].arn] },
      { Sid = "PayloadKey", Effect = "Allow", Action = ["kms:Decrypt"], Resource = [local.kms_key_arn] },
    ]
    error_message = "Scheduler may invoke only the schedules' targets and send only to their dead-letter queue"
  }
}

run "without_sources_there_is_no_fetch_api" {
  command = plan

  variables {
    config_file = "tests/fixtures/without-sources.yaml"
  }

  assert {
    condition     = !contains(keys(module.function), "fetch_api") && keys(module.schedules[0].schedules) == ["monitor-feeds", "repair-partitions"]
    error_message = "a config without sources deploys no fetch-api and only the monitor and repair schedules"
  }
}

run "alarms_watch_every_dead_letter_queue_function_and_queue" {
  command = plan

  variables {
    config_file = "tests/fixtures/without-sources.yaml"
  }

  assert {
    condition = toset(module.alarms[0].alarm_names.dlq_not_empty) == toset([
      "lft-parse-file-dlq-not-empty", "lft-register-partitions-dlq-not-empty", "lft-load-warehouse-dlq-not-empty",
      "lft-async-failures-dlq-not-empty",
    ])
    error_message = "every dead-letter queue must alarm when it holds a message"
  }
  assert {
    condition = (
      toset(module.alarms[0].alarm_names.errors) == toset([for f in module.function : "${f.function_name}-errors"]) &&
      toset(module.alarms[0].alarm_names.throttles) == toset([for f in module.function : "${f.function_name}-throttles"]) &&
      length(module.alarms[0].alarm_names.errors) == 4
    )
    error_message = "every function must alarm on errors and on throttles"
  }
  assert {
    condition     = toset(module.alarms[0].alarm_names.oldest_message) == toset([for q in module.queue : "${q.name}-oldest-message"])
    error_message = "every work queue must alarm on the age of its oldest message"
  }
  assert {
    condition = (
      module.alarms[0].alarm_names.notifications_failed == ["lft-notifications-failed"] &&
      one(module.alarms[0].notifications_failed_query) == "SELECT SUM(notifications_failed) FROM \"landfall\""
    )
    error_message = "a notification that fails after its retries must alarm, summed over every dimension set"
  }
}

run "redshift_copy_role_reads_only_the_lake" {
  command = plan

  assert {
    condition = jsondecode(module.redshift.copy_role_policy).Statement[0].Resource == [
      "arn:aws:s3:::lft-curated/tables/*", "arn:aws:s3:::lft-curated/_copy/*",
    ]
    error_message = "COPY reads the curated bucket's parts and COPY manifests only"
  }
  assert {
    condition     = output.redshift_workgroup == null
    error_message = "no Redshift Serverless workgroup unless asked for"
  }
}

run "a_created_serverless_workgroup_gets_the_copy_role_and_the_loader_its_data_api" {
  command = plan

  variables {
    redshift = { serverless = { create = true } }
  }

  assert {
    condition     = output.redshift_workgroup == "lft"
    error_message = "serverless.create makes a workgroup named after the prefix"
  }
  assert {
    condition     = module.redshift.workgroup_settings.enhanced_vpc_routing == false && module.redshift.s3_endpoint == null
    error_message = "a workgroup created in the default VPC must not force COPY and UNLOAD through a VPC with no route to S3 (see enhanced_vpc_routing below)"
  }
  assert {
    condition = anytrue([for st in jsondecode(module.function["load_warehouse"].policy).Statement :
      st.Sid == "DataApiRun" && st.Resource == ["arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/0000-lft"]
    ])
    error_message = "the loader may run Data API statements on the created workgroup"
  }
}

# The local stack applies the root module to moto with these switches.
run "local_stack_creates_no_functions_schedules_or_alarms" {
  command = plan

  variables {
    create_functions  = false
    create_monitoring = false
  }

  assert {
    condition     = length(module.function) == 0 && length(module.schedules) == 0 && length(module.alarms) == 0
    error_message = "with create_functions and create_monitoring false nothing needs Lambda, Scheduler or CloudWatch"
  }
  assert {
    condition     = keys(output.queues) == ["load-warehouse", "parse-file", "register-partitions"]
    error_message = "the queues output keeps the shape the local pump reads"
  }
}

run "the_redshift_driver_may_read_its_credentials_secret_and_list_its_statements" {
  command = plan

  variables {
    config_file = "tests/fixtures/redshift.yaml"
    redshift    = { data_api_target_arn = "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/0000-analytics" }
  }

  assert {
    condition = anytrue([for st in jsondecode(module.function["load_warehouse"].policy).Statement :
      st.Sid == "RedshiftCredentialsSecret" && st.Resource == ["arn:aws:secretsmanager:us-east-1:123456789012:secret:dw-loader-AbCdEf"]
    ])
    error_message = "the Data API reads the config's secret_arn as the loader, so the loader may read it"
  }
  assert {
    condition = anytrue([for st in jsondecode(module.function["load_warehouse"].policy).Statement :
      st.Sid == "DataApiListStatements" && st.Action == ["redshift-data:ListStatements"]
    ])
    error_message = "the loader lists its own statements to find a load still running"
  }
  assert {
    condition     = tonumber(module.function["load_warehouse"].settings.environment.LANDFALL_STATEMENT_DEADLINE_SECONDS) < module.function["load_warehouse"].settings.timeout
    error_message = "the statement deadline is under the function's timeout"
  }
}

run "jobs_get_run_job_one_schedule_each_and_unload_writes_only_exports_and_archive" {
  command = plan

  variables {
    config_file = "tests/fixtures/with-jobs.yaml"
  }

  assert {
    condition     = keys(module.schedules[0].schedules) == ["job-clicks_archive", "job-clicks_daily", "monitor-feeds", "repair-partitions"]
    error_message = "one schedule per job with a schedule (clicks_report runs after clicks_daily), plus the monitor and the repair"
  }
  assert {
    condition = (
      module.schedules[0].schedules["job-clicks_daily"].schedule_expression == "rate(1 hour)" &&
      jsondecode(module.schedules[0].schedules["job-clicks_daily"].input) == { job = "clicks_daily" } &&
      module.schedules[0].schedules["job-clicks_daily"].target_arn == module.function["run_job"].arn
    )
    error_message = "a job's schedule invokes run-job with {\"job\": NAME}"
  }
  assert {
    condition     = module.function["run_job"].event_source_mapping == null && !contains(keys(module.queue), "run_job")
    error_message = "run-job is invoked by its schedules only"
  }
  assert {
    condition = [for s in jsondecode(module.redshift.copy_role_policy).Statement : s.Resource if s.Sid == "WriteUnloads"] == [[
      "arn:aws:s3:::lft-curated/archive/*", "arn:aws:s3:::lft-curated/exports/*",
    ]]
    error_message = "UNLOAD through the COPY role writes archive/ and exports/ of the curated bucket only"
  }
  assert {
    condition = jsondecode(module.redshift.copy_role_policy).Statement[0].Resource == [
      "arn:aws:s3:::lft-curated/tables/*", "arn:aws:s3:::lft-curated/_copy/*",
    ]
    error_message = "the COPY role still reads only the parts and COPY manifests"
  }
  assert {
    condition = (
      [for s in jsondecode(module.function["run_job"].policy).Statement : s.Resource if s.Sid == "ExportsAndArchive"] == [[
        "arn:aws:s3:::lft-curated/archive/*", "arn:aws:s3:::lft-curated/exports/*",
      ]] &&
      [for s in jsondecode(module.function["run_job"].policy).Statement : s.Resource if s.Sid == "ArchiveCatalog"][0][2] ==
      "arn:aws:glue:us-east-1:123456789012:table/${module.glue.name}/archive_*"
    )
    error_message = "run-job writes only exports/ and archive/ and registers only archive_* tables"
  }
  assert {
    condition     = module.function["run_job"].settings.environment.LANDFALL_GLUE_DATABASE == module.glue.name
    error_message = "run-job knows the Glue database archives are registered in"
  }
}

run "without_jobs_there_is_no_run_job_and_the_copy_role_writes_nothing" {
  command = plan

  variables {
    config_file = "tests/fixtures/without-sources.yaml"
  }

  assert {
    condition = (
      !contains(keys(module.function), "run_job") &&
      length([for s in jsondecode(module.redshift.copy_role_policy).Statement : s if s.Sid == "WriteUnloads"]) == 0
    )
    error_message = "a config without jobs deploys no run-job and the COPY role may not write"
  }
}

run "monitor_feeds_runs_every_15_minutes_and_its_role_reads_only_its_secrets_and_publishes_only_its_topics" {
  command = plan

  variables {
    config_file               = "tests/fixtures/with-notify.yaml"
    warehouse                 = { url = "postgres://monitor@db.internal:5432/analytics", password_secret = "lft/warehouse" }
    slack_webhook_secret_name = "lft/slack-webhook"
    alert_email               = "data-oncall@example.com"
  }

  assert {
    condition = (
      module.schedules[0].schedules["monitor-feeds"].schedule_expression == "rate(15 minutes)" &&
      module.schedules[0].schedules["monitor-feeds"].target_arn == module.function["monitor_feeds"].arn &&
      module.schedules[0].schedules["monitor-feeds"].dead_letter_arn == aws_sqs_queue.async_failures[0].arn
    )
    error_message = "a schedule invokes monitor-feeds every 15 minutes, retried and dead-lettered like the others"
  }
  assert {
    condition = { for st in jsondecode(module.function["monitor_feeds"].policy).Statement : st.Sid => [st.Action, st.Resource] } == {
      OwnLogGroup       = [["logs:CreateLogStream", "logs:PutLogEvents"], ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/lft-monitor-feeds:*"]]
      AsyncDeadLetter   = [["sqs:SendMessage"], ["arn:aws:sqs:us-east-1:123456789012:lft-async-failures-dlq"]]
      DataKey           = [["kms:Decrypt", "kms:GenerateDataKey"], ["arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"]]
      ReadConfig        = [["s3:GetObject"], ["arn:aws:s3:::lft-curated/_config/landfall.yaml"]]
      ListOwnPrefixes   = [["s3:ListBucket"], ["arn:aws:s3:::lft-curated"]]
      ReadParseFailures = [["s3:GetObject", "s3:GetObjectVersion"], ["arn:aws:s3:::lft-curated/_failures/*"]]
      WarehousePassword = [["secretsmanager:GetSecretValue"], ["arn:aws:secretsmanager:us-east-1:123456789012:secret:lft/warehouse-??????"]]
      SlackWebhookSecrets = [["secretsmanager:GetSecretValue"], [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:lft/slack-webhook-??????",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:lft/slack-growth-??????",
      ]]
      PublishAlerts = [["sns:Publish"], ["arn:aws:sns:us-east-1:123456789012:t-alarms", "arn:aws:sns:us-east-1:123456789012:growth-alerts"]]
    }
    error_message = "monitor-feeds reads the config, parse-file's failure records, the warehouse password and the webhook secrets, and publishes to the alerts topic and the feeds' own topics; nothing else"
  }
  assert {
    condition = (
      module.function["monitor_feeds"].settings.environment.LANDFALL_SLACK_WEBHOOK_SECRET == "lft/slack-webhook" &&
      module.function["monitor_feeds"].settings.environment.LANDFALL_ALERTS_TOPIC_ARN == "arn:aws:sns:us-east-1:123456789012:t-alarms" &&
      module.function["monitor_feeds"].event_source_mapping == null
    )
    error_message = "monitor-feeds is told its default channels and has no queue"
  }
  assert {
    condition = (
      aws_sns_topic_subscription.monitor_alarms[0].protocol == "lambda" &&
      aws_sns_topic_subscription.monitor_alarms[0].endpoint == module.function["monitor_feeds"].arn &&
      jsondecode(aws_sns_topic_subscription.monitor_alarms[0].filter_policy) == { landfall_source = [{ exists = false }] } &&
      aws_lambda_permission.monitor_alarms[0].principal == "sns.amazonaws.com" &&
      aws_lambda_permission.monitor_alarms[0].source_arn == "arn:aws:sns:us-east-1:123456789012:t-alarms"
    )
    error_message = "the alerts topic invokes monitor-feeds with the alarms only (not what monitor-feeds publishes)"
  }
  assert {
    condition     = contains(module.alarms[0].email_subscriptions, "data-oncall@example.com")
    error_message = "alert_email subscribes to the alerts topic"
  }
  assert {
    condition = alltrue([for t in ["Invocation duration p95 per function (ms)", "Oldest message per work queue (s)", "Messages in dead-letter queues", "Files parsed per feed and outcome (parse-file)", "Rows loaded per table (load-warehouse)", "Alerts opened per feed and kind (monitor-feeds)"] :
      contains(module.alarms[0].dashboard_widgets, t)
    ])
    error_message = "the dashboard covers files, rows, rejects, durations, queue age and DLQ depth"
  }
}

run "parse_file_threads_default_to_auto_and_are_passed_on" {
  command = plan

  assert {
    condition     = module.function["parse_file"].settings.environment.LANDFALL_PARSE_THREADS == "auto"
    error_message = "parse-file must get LANDFALL_PARSE_THREADS, auto by default"
  }
}

run "parse_file_threads_other_than_auto_1_or_2_are_refused" {
  command = plan

  variables {
    functions = { parse_file = { threads = "4" } }
  }

  expect_failures = [var.functions]
}

run "a_function_runs_in_the_vpc_it_is_given_and_only_that_one" {
  command = plan

  variables {
    functions = { fetch_api = { vpc = { subnet_ids = ["subnet-0a", "subnet-0b"], security_group_ids = ["sg-0c"] } } }
  }

  assert {
    condition = (
      toset(module.function["fetch_api"].settings.vpc_subnet_ids) == toset(["subnet-0a", "subnet-0b"]) &&
      module.function["fetch_api"].settings.vpc_policy_attached
    )
    error_message = "fetch-api must run in the given subnets with the VPC access policy attached"
  }
  assert {
    condition     = alltrue([for k, f in module.function : !f.settings.vpc_policy_attached && length(f.settings.vpc_subnet_ids) == 0 if k != "fetch_api"])
    error_message = "a function without a vpc setting must stay out of any VPC"
  }
}

# ---------------------------------------------------------------- what real AWS does (issue 34)
# Each run names the documented behaviour moto does not enforce and the page it comes from.

# Redshift's minimum for UNLOAD is GET, LIST and PUT on where it writes, and it lists its target
# first (it refuses to overwrite what it finds); CLEANPATH needs s3:DeleteObject
# (https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-access-permissions.html,
# https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html). s3:prefix is in the context of
# ListBucket only, and a condition on a key the request lacks denies
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
run "unload_may_list_read_write_and_delete_under_exports_and_archive_only" {
  command = plan

  variables {
    config_file = "tests/fixtures/with-jobs.yaml"
  }

  assert {
    condition = { for s in jsondecode(module.redshift.copy_role_policy).Statement : s.Sid => s.Condition.StringLike["s3:prefix"] if s.Sid == "ListLakePrefixes" } == {
      ListLakePrefixes = ["tables/*", "_copy/*", "archive/*", "exports/*"]
    }
    error_message = "the COPY role lists the COPY prefixes and UNLOAD's targets, nothing else"
  }
  assert {
    condition = one([for s in jsondecode(module.redshift.copy_role_policy).Statement : s if s.Sid == "WriteUnloads"]) == {
      Sid      = "WriteUnloads"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
      Resource = ["${module.curated_bucket.arn}/archive/*", "${module.curated_bucket.arn}/exports/*"]
    }
    error_message = "UNLOAD reads, writes and deletes under archive/ and exports/ of the curated bucket only"
  }
  assert {
    condition = alltrue([for s in jsondecode(module.redshift.copy_role_policy).Statement :
      try(s.Condition, null) == null if contains(s.Action, "s3:GetBucketLocation")
    ])
    error_message = "s3:GetBucketLocation must not sit under an s3:prefix condition its request never carries"
  }
}

run "without_jobs_the_copy_role_lists_only_what_copy_reads" {
  command = plan

  variables {
    config_file = "tests/fixtures/without-sources.yaml"
  }

  assert {
    condition = [for s in jsondecode(module.redshift.copy_role_policy).Statement : s.Condition.StringLike["s3:prefix"] if s.Sid == "ListLakePrefixes"] == [
      ["tables/*", "_copy/*"],
    ]
    error_message = "with no jobs there is no UNLOAD, so nothing to list under exports/ or archive/"
  }
}

# Redshift scopes a role it assumes with sts:ExternalId (the database users allowed to use it) and
# documents no aws:SourceAccount on that call
# (https://docs.aws.amazon.com/redshift/latest/mgmt/authorizing-redshift-service.html).
run "the_copy_role_trusts_redshift_without_a_source_account_condition" {
  command = plan

  assert {
    condition = jsondecode(module.redshift.copy_role_trust_policy).Statement == [{
      Effect    = "Allow"
      Principal = { Service = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"] }
      Action    = "sts:AssumeRole"
    }]
    error_message = "the COPY role's trust names the Redshift principals with no condition Redshift is not documented to satisfy"
  }
}

run "copy_role_external_ids_scope_the_trust_to_those_database_users" {
  command = plan

  variables {
    redshift = { copy_role_external_ids = ["arn:aws:redshift:us-east-1:123456789012:dbuser:analytics/IAMR:lft-run-job"] }
  }

  assert {
    condition = one(jsondecode(module.redshift.copy_role_trust_policy).Statement).Condition == {
      StringEquals = { "sts:ExternalId" = ["arn:aws:redshift:us-east-1:123456789012:dbuser:analytics/IAMR:lft-run-job"] }
    }
    error_message = "copy_role_external_ids become an sts:ExternalId condition"
  }
}

# "If enhanced VPC routing is not enabled, Amazon Redshift routes traffic through the internet";
# with it, COPY and UNLOAD need a VPC endpoint, NAT or internet gateway to reach S3
# (https://docs.aws.amazon.com/redshift/latest/mgmt/enhanced-vpc-routing.html). The default VPC
# has none; a created workgroup leaves it off unless asked (run above).
run "enhanced_vpc_routing_gets_an_s3_gateway_endpoint_on_the_given_route_tables" {
  command = plan

  variables {
    redshift = { serverless = {
      create               = true
      enhanced_vpc_routing = true
      subnet_ids           = ["subnet-0a", "subnet-0b", "subnet-0c"]
      s3_endpoint          = { vpc_id = "vpc-0d", route_table_ids = ["rtb-0e"] }
    } }
  }

  assert {
    condition = module.redshift.workgroup_settings.enhanced_vpc_routing && module.redshift.s3_endpoint == {
      service_name      = "com.amazonaws.us-east-1.s3"
      vpc_endpoint_type = "Gateway"
      route_table_ids   = toset(["rtb-0e"])
    }
    error_message = "enhanced VPC routing comes with an S3 gateway endpoint in the bucket's region on the subnets' route tables"
  }
}

run "enhanced_vpc_routing_in_the_default_vpc_is_refused" {
  command = plan

  variables {
    redshift = { serverless = { create = true, enhanced_vpc_routing = true } }
  }

  expect_failures = [var.redshift]
}

# Lambda gives a JSON line without a "level" key the level INFO and drops it below the
# application log level (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html);
# the EMF metric documents carry no level, so Lambda's filter must stay at INFO or below.
run "metrics_pass_lambdas_log_filter_at_log_level_warn" {
  command = plan

  variables {
    log_level = "WARN"
  }

  assert {
    condition = alltrue([for f in module.function :
      f.settings.application_log_level == "INFO" && f.settings.environment.RUST_LOG == "warn"
    ])
    error_message = "at WARN, Lambda filters at INFO (metric lines pass) and the functions filter their own logs at warn"
  }
}

# Lambda refuses an SQS event source mapping when the function's timeout exceeds the queue's
# visibility timeout (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
run "a_visibility_timeout_override_below_a_function_timeout_is_refused" {
  command = plan

  variables {
    visibility_timeout_override_seconds = 60
  }

  expect_failures = [var.visibility_timeout_override_seconds]
}

run "the_local_stack_may_override_the_visibility_timeout_for_quick_retries" {
  command = plan

  variables {
    create_functions                    = false
    create_monitoring                   = false
    visibility_timeout_override_seconds = 5
  }

  assert {
    condition     = alltrue([for q in output.queues : q.visibility_timeout_seconds == 5])
    error_message = "without functions (no event source mappings) the override applies as given"
  }
}

# "Don't configure maximum concurrency higher than reserved concurrency ... otherwise Lambda may
# throttle your messages" (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
run "a_reserved_concurrency_below_the_queues_maximum_concurrency_is_refused" {
  command = plan

  variables {
    functions = { parse_file = { max_concurrency = 20, reserved_concurrency = 5 } }
  }

  expect_failures = [var.functions]
}

run "a_reserved_concurrency_of_zero_stops_a_function_on_purpose" {
  command = plan

  variables {
    functions = { parse_file = { reserved_concurrency = 0 }, load_warehouse = { max_concurrency = 2, reserved_concurrency = 2 } }
  }

  assert {
    condition     = module.function["load_warehouse"].event_source_mapping.maximum_concurrency == 2
    error_message = "a reserved concurrency at the mapping's maximum concurrency is accepted"
  }
}

# IAM refuses a statement with no resource: a config with no feeds yet leaves the feed statements out.
run "a_config_without_feeds_gives_no_statement_without_a_resource" {
  command = plan

  variables {
    config_file = "tests/fixtures/no-feeds.yaml"
  }

  assert {
    condition = alltrue(flatten([for f in module.function : [
      for s in jsondecode(f.policy).Statement : length(s.Resource) > 0 && length(s.Action) > 0
    ]]))
    error_message = "every statement names at least one action and one resource"
  }
  assert {
    condition = (
      length(module.function["parse_file"].managed_policies) == 0 &&
      length([for s in jsondecode(module.function["parse_file"].policy).Statement : s if s.Sid == "ReadLandedFiles"]) == 0
    )
    error_message = "with no feed prefix parse-file gets no feed statements at all"
  }
}

# A role's inline policies hold 10,240 characters together, a managed policy 6,144, and a role
# takes 10 managed policies by default (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
# 150 feed prefixes go into managed policies of 20 prefixes each, every prefix still named.
run "many_feed_prefixes_fit_iams_policy_sizes_and_stay_named_one_by_one" {
  command = plan

  variables {
    config_file = "tests/fixtures/many-feeds.yaml"
  }

  assert {
    condition = alltrue([for f in module.function :
      length(f.inline_policy) <= 10240 && length(f.managed_policies) <= 10 && alltrue([for p in f.managed_policies : length(p) <= 6144])
    ])
    error_message = "every role's inline policy fits 10,240 characters and each of at most 10 managed policies 6,144"
  }
  assert {
    condition     = length(module.function["parse_file"].managed_policies) == 8 && length(module.function["fetch_api"].managed_policies) == 8
    error_message = "150 prefixes take 8 managed policies of 20 prefixes each"
  }
  assert {
    condition = (
      toset(flatten([for s in jsondecode(module.function["parse_file"].policy).Statement : s.Resource if s.Sid == "ReadLandedFiles"])) ==
      toset([for i in range(150) : format("arn:aws:s3:::lft-landing/partners/partner-%03d/inbound/*", i)]) &&
      toset(flatten([for s in jsondecode(module.function["parse_file"].policy).Statement : s.Condition.StringLike["s3:prefix"] if s.Sid == "ListOwnPrefixes"])) ==
      toset([for i in range(150) : format("partners/partner-%03d/inbound/*", i)]) &&
      toset(flatten([for s in jsondecode(module.function["fetch_api"].policy).Statement : s.Resource if s.Sid == "WriteLanding"])) ==
      toset([for i in range(150) : format("arn:aws:s3:::lft-landing/partners/partner-%03d/inbound/*", i)])
    )
    error_message = "parse-file lists and reads, and fetch-api writes, exactly the 150 feed prefixes: no wildcard wider than a prefix"
  }
}

# Lambda retries a failed asynchronous invocation twice by default, and EventBridge Scheduler
# invokes asynchronously (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html,
# https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html).
run "a_failed_job_is_not_run_again_by_lambdas_async_retries" {
  command = plan

  variables {
    config_file = "tests/fixtures/with-jobs.yaml"
  }

  assert {
    condition     = module.function["run_job"].settings.async_retry_attempts == 0
    error_message = "run-job's asynchronous invocations are not retried: a failed 15-minute job goes to the dead-letter queue"
  }
  assert {
    condition     = alltrue([for k, f in module.function : f.settings.async_retry_attempts == null if k != "run_job"])
    error_message = "the other scheduled functions keep Lambda's retries"
  }
}
