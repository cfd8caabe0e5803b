output "url" {
  description = "URL of the work queue."
  value       = aws_sqs_queue.this.url
}

output "arn" {
  description = "ARN of the work queue."
  value       = aws_sqs_queue.this.arn
}

output "name" {
  description = "Name of the work queue."
  value       = aws_sqs_queue.this.name
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the work queue."
  value       = aws_sqs_queue.this.visibility_timeout_seconds
}

output "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue."
  value       = var.max_receive_count
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "redrive_policy" {
  description = "The work queue's redrive policy (JSON: deadLetterTargetArn, maxReceiveCount)."
  value       = aws_sqs_queue.this.redrive_policy
}
