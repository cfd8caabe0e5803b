output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "policy" {
  description = "Every statement of the role's access policies as one document (JSON); IAM holds them as the inline policy (inline_policy) and the managed policies (managed_policies)."
  value       = jsonencode({ Version = "2012-10-17", Statement = concat(local.statements, flatten(local.statement_groups)) })
}

output "inline_policy" {
  description = "The role's inline access policy document (JSON)."
  value       = aws_iam_role_policy.this.policy
}

output "managed_policies" {
  description = "The documents (JSON) of the customer-managed policies attached to the role for what grows with the config."
  value       = aws_iam_policy.grouped[*].policy
}

output "log_group_name" {
  description = "The function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "event_source_mapping" {
  description = "The SQS event source mapping (null for a function without a queue)."
  value = var.queue == null ? null : {
    uuid                               = aws_lambda_event_source_mapping.this[0].uuid
    event_source_arn                   = aws_lambda_event_source_mapping.this[0].event_source_arn
    function_response_types            = aws_lambda_event_source_mapping.this[0].function_response_types
    batch_size                         = aws_lambda_event_source_mapping.this[0].batch_size
    maximum_batching_window_in_seconds = aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds
    maximum_concurrency                = aws_lambda_event_source_mapping.this[0].scaling_config[0].maximum_concurrency
  }
}

output "settings" {
  description = "The function's deployed settings: runtime, architectures, package, memory, ephemeral storage, timeout, environment, asynchronous dead-letter target, log retention and level, VPC subnets."
  value = {
    runtime               = aws_lambda_function.this.runtime
    architectures         = aws_lambda_function.this.architectures
    filename              = aws_lambda_function.this.filename
    memory_size           = aws_lambda_function.this.memory_size
    ephemeral_storage_mb  = aws_lambda_function.this.ephemeral_storage[0].size
    timeout               = aws_lambda_function.this.timeout
    environment           = aws_lambda_function.this.environment[0].variables
    dead_letter_target    = aws_lambda_function.this.dead_letter_config[0].target_arn
    log_retention_in_days = aws_cloudwatch_log_group.this.retention_in_days
    application_log_level = aws_lambda_function.this.logging_config[0].application_log_level
    async_retry_attempts  = one(aws_lambda_function_event_invoke_config.this[*].maximum_retry_attempts)
    vpc_subnet_ids        = try(aws_lambda_function.this.vpc_config[0].subnet_ids, [])
    vpc_policy_attached   = length(aws_iam_role_policy_attachment.vpc) == 1
  }
}
