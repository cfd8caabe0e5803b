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

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = toset(local.dlq_names)

  alarm_name          = "${each.value}-not-empty"
  alarm_description   = "Messages in ${each.value}: they failed every retry. Inspect, fix, then redrive them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  for_each = var.queues

  alarm_name          = "${each.value.queue_name}-oldest-message"
  alarm_description   = "The oldest message on ${each.value.queue_name} waits longer than ${each.value.max_age_seconds}s: the function is failing, throttled or too slow."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value.queue_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.max_age_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each = toset(var.functions)

  alarm_name          = "${each.value}-errors"
  alarm_description   = "${each.value} failed invocations (a crash, a timeout, or a batch it could not answer)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  for_each = toset(var.functions)

  alarm_name          = "${each.value}-throttles"
  alarm_description   = "${each.value} was throttled: raise its concurrency or the account's limit."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
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
