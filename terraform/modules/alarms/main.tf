# Alarms to one SNS topic (dead-letter queues not empty, function errors and
# throttles, the oldest message of each work queue) and a dashboard of what the
# functions count per feed and table.

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

# SEARCH expressions draw one line per feed (table) as the functions report them,
# so a feed added to the config appears without a change here. The dimension sets
# are the metrics' labels (EMF, shared/src/telemetry.rs).
locals {
  widgets = [
    { title = "Files processed per feed and outcome (parse-file)", expr = "SEARCH('{${local.ns},feed,outcome} MetricName=\"files_processed\"', 'Sum', 300)" },
    { title = "Rows written per feed (parse-file)", expr = "SEARCH('{${local.ns},feed} MetricName=\"rows_written\"', 'Sum', 300)" },
    { title = "Rows rejected per feed (parse-file)", expr = "SEARCH('{${local.ns},feed} MetricName=\"rows_rejected\"', 'Sum', 300)" },
    { title = "Rows loaded per table (load-warehouse)", expr = "SEARCH('{${local.ns},table} MetricName=\"rows_loaded\"', 'Sum', 300)" },
    { title = "Rows rejected per table and stage (load-warehouse)", expr = "SEARCH('{${local.ns},stage,table} MetricName=\"rows_rejected\"', 'Sum', 300)" },
    { title = "Files loaded per table and status (load-warehouse)", expr = "SEARCH('{${local.ns},status,table} MetricName=\"files_loaded\"', 'Sum', 300)" },
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
          stat    = "Sum"
          metrics = [[{ expression = w.expr, id = "e${i}", label = "" }]]
        }
      }
    ]
  })
}

data "aws_region" "current" {}
