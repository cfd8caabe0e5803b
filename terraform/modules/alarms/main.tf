# Alarms to one SNS topic, the alerts topic (dead-letter queues not empty,
# function errors and throttles, the oldest message of each work queue,
# notifications that could not be delivered), which
# monitor-feeds also publishes its feed alerts and digests to, and a dashboard
# of every function: files, rows, rejects, durations, queue age, DLQ depth.

locals {
  dlq_names = distinct(concat(flatten([for q in values(var.queues) : q.dead_letter_queues]), var.dead_letter_queues))
  actions   = [aws_sns_topic.alarms.arn]
  ns        = var.metric_namespace
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.email_subscriptions)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# Every alarm, by name: the four kinds differ only in metric, dimension,
# statistic, periods and threshold.
locals {
  alarms = merge(
    { for q in local.dlq_names : "${q}-not-empty" => {
      kind        = "dlq_not_empty"
      description = "Messages in ${q}: they failed every retry. Inspect, fix, then redrive them."
      namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", dimensions = { QueueName = q }
      statistic   = "Maximum", evaluation_periods = 1, threshold = 0
    } },
    { for q in values(var.queues) : "${q.queue_name}-oldest-message" => {
      kind        = "oldest_message"
      description = "The oldest message on ${q.queue_name} waits longer than ${q.max_age_seconds}s: the function is failing, throttled or too slow."
      namespace   = "AWS/SQS", metric = "ApproximateAgeOfOldestMessage", dimensions = { QueueName = q.queue_name }
      statistic   = "Maximum", evaluation_periods = 2, threshold = q.max_age_seconds
    } },
    { for f in var.functions : "${f}-errors" => {
      kind        = "errors"
      description = "${f} failed invocations (a crash, a timeout, or a batch it could not answer)."
      namespace   = "AWS/Lambda", metric = "Errors", dimensions = { FunctionName = f }
      statistic   = "Sum", evaluation_periods = 1, threshold = 0
    } },
    { for f in var.functions : "${f}-throttles" => {
      kind        = "throttles"
      description = "${f} was throttled: raise its concurrency or the account's limit."
      namespace   = "AWS/Lambda", metric = "Throttles", dimensions = { FunctionName = f }
      statistic   = "Sum", evaluation_periods = 1, threshold = 0
    } },
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = each.key
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = each.value.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# Notifications that failed after their retries (monitor-feeds' Slack and
# email, run-job's Slack): counted under several dimension sets, so one
# Metrics Insights query sums them all. It alarms to the same topic, whose
# email subscribers hear of it even when Slack is what fails.
resource "aws_cloudwatch_metric_alarm" "notifications_failed" {
  alarm_name          = "${var.name_prefix}-notifications-failed"
  alarm_description   = "Alerts, digests or job reports could not be delivered after their retries: check the Slack webhook secret and the topic's subscriptions."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags

  metric_query {
    id          = "failed"
    label       = "notifications failed"
    expression  = "SELECT SUM(notifications_failed) FROM \"${local.ns}\""
    period      = 300
    return_data = true
  }
}

# The dashboard: what every function counts (EMF; every name and label set is
# defined in shared/src/telemetry/catalog.rs, whose tests read this file; the
# dimension sets are the metrics' labels plus `function`), how long they take,
# and the queues' age and dead-letter depth. SEARCH expressions draw one line per
# feed, table or function as they report, so a feed added to the config appears
# without a change here.
locals {
  search = { for k, v in {
    files_parsed    = ["{${local.ns},feed,function,outcome} MetricName=\"files_processed\"", "Sum"]
    files_loaded    = ["{${local.ns},function,status,table} MetricName=\"files_loaded\"", "Sum"]
    files_digested  = ["{${local.ns},feed,function,status} MetricName=\"files_digested\"", "Sum"]
    rows_written    = ["{${local.ns},feed,function} MetricName=\"rows_written\"", "Sum"]
    rows_loaded     = ["{${local.ns},function,table} MetricName=\"rows_loaded\"", "Sum"]
    rows_rejected   = ["{${local.ns},feed,function} MetricName=\"rows_rejected\"", "Sum"]
    load_rejected   = ["{${local.ns},function,table} MetricName=\"rows_rejected_at_load\"", "Sum"]
    partitions      = ["{${local.ns},function,table} MetricName=\"partitions_registered\"", "Sum"]
    fetch_runs      = ["{${local.ns},function,outcome,source} MetricName=\"runs_completed\"", "Sum"]
    duration_p95    = ["{${local.ns},function,outcome} MetricName=\"invocation_duration\"", "p95"]
    duration_max    = ["{${local.ns},function,outcome} MetricName=\"invocation_duration\"", "Maximum"]
    alerts_opened   = ["{${local.ns},feed,function,kind} MetricName=\"alerts_opened\"", "Sum"]
    alerts_resolved = ["{${local.ns},feed,function,kind} MetricName=\"alerts_resolved\"", "Sum"]
    notifications   = ["{${local.ns},channel,function,what} MetricName=\"notifications_sent\"", "Sum"]
    notify_failures = ["{${local.ns},channel,function,what} MetricName=\"notifications_failed\"", "Sum"]
  } : k => "SEARCH('${v[0]}', '${v[1]}', 300)" }

  queue_names = [for q in values(var.queues) : q.queue_name]

  widgets = [
    { title = "Files parsed per feed and outcome (parse-file)", stat = "Sum", metrics = [[{ expression = local.search.files_parsed, id = "e", label = "" }]] },
    { title = "Files loaded per table and status (load-warehouse)", stat = "Sum", metrics = [[{ expression = local.search.files_loaded, id = "e", label = "" }]] },
    { title = "Rows written per feed (parse-file)", stat = "Sum", metrics = [[{ expression = local.search.rows_written, id = "e", label = "" }]] },
    { title = "Rows loaded per table (load-warehouse)", stat = "Sum", metrics = [[{ expression = local.search.rows_loaded, id = "e", label = "" }]] },
    { title = "Rows rejected per feed (parse-file)", stat = "Sum", metrics = [[{ expression = local.search.rows_rejected, id = "e", label = "" }]] },
    { title = "Rows rejected at load per table (load-warehouse)", stat = "Sum", metrics = [[{ expression = local.search.load_rejected, id = "e", label = "" }]] },
    { title = "Partitions registered per table (register-partitions)", stat = "Sum", metrics = [[{ expression = local.search.partitions, id = "e", label = "" }]] },
    { title = "Fetch runs per source and outcome (fetch-api)", stat = "Sum", metrics = [[{ expression = local.search.fetch_runs, id = "e", label = "" }]] },
    { title = "Invocation duration p95 per function (ms)", stat = "p95", metrics = [[{ expression = local.search.duration_p95, id = "e", label = "" }]] },
    { title = "Invocation duration max per function (ms)", stat = "Maximum", metrics = [[{ expression = local.search.duration_max, id = "e", label = "" }]] },
    { title = "Oldest message per work queue (s)", stat = "Maximum", metrics = [for q in local.queue_names : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q]] },
    { title = "Messages in dead-letter queues", stat = "Maximum", metrics = [for q in local.dlq_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]] },
    { title = "Alerts opened per feed and kind (monitor-feeds)", stat = "Sum", metrics = [[{ expression = local.search.alerts_opened, id = "e", label = "" }]] },
    { title = "Alerts resolved per feed and kind (monitor-feeds)", stat = "Sum", metrics = [[{ expression = local.search.alerts_resolved, id = "e", label = "" }]] },
    { title = "Refused and failed files digested per feed (monitor-feeds)", stat = "Sum", metrics = [[{ expression = local.search.files_digested, id = "e", label = "" }]] },
    { title = "Notifications sent and failed per channel (monitor-feeds)", stat = "Sum", metrics = [[{ expression = local.search.notifications, id = "s", label = "" }], [{ expression = local.search.notify_failures, id = "f", label = "" }]] },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix
  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = w.title
          view    = "timeSeries"
          stacked = false
          region  = data.aws_region.current.name
          period  = 300
          stat    = w.stat
          metrics = w.metrics
        }
      }
    ]
  })
}

data "aws_region" "current" {}
