output "topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Every alarm's name, by kind."
  value = merge(
    {
      for kind in ["dlq_not_empty", "oldest_message", "errors", "throttles"] :
      kind => [for name, a in aws_cloudwatch_metric_alarm.this : a.alarm_name if local.alarms[name].kind == kind]
    },
    { notifications_failed = [aws_cloudwatch_metric_alarm.notifications_failed.alarm_name] },
  )
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_widgets" {
  description = "The dashboard's widget titles, in order."
  value       = [for w in local.widgets : w.title]
}

output "email_subscriptions" {
  description = "Addresses subscribed to the topic by email."
  value       = sort(keys(aws_sns_topic_subscription.email))
}

output "notifications_failed_query" {
  description = "The Metrics Insights query of the failed-notifications alarm."
  value       = [for q in aws_cloudwatch_metric_alarm.notifications_failed.metric_query : q.expression]
}
