output "topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Every alarm's name, by kind."
  value = {
    dlq_not_empty  = [for a in aws_cloudwatch_metric_alarm.dlq_not_empty : a.alarm_name]
    oldest_message = [for a in aws_cloudwatch_metric_alarm.oldest_message : a.alarm_name]
    errors         = [for a in aws_cloudwatch_metric_alarm.errors : a.alarm_name]
    throttles      = [for a in aws_cloudwatch_metric_alarm.throttles : a.alarm_name]
  }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
