output "topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Every alarm's name, by kind."
  value = {
    for kind in ["dlq_not_empty", "oldest_message", "errors", "throttles"] :
    kind => [for name, a in aws_cloudwatch_metric_alarm.this : a.alarm_name if local.alarms[name].kind == kind]
  }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
