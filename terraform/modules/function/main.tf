# One Lambda function (provided.al2023, arm64) with its role, log group and, when
# it has a queue, the SQS event source mapping that triggers it.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  log_group_arn = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/lambda/${var.name}"

  # What every function needs: write its own log group, take messages from its own
  # queue, park failed asynchronous invocations, use the data key.
  own_statements = concat(
    [{
      Sid      = "OwnLogGroup"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${local.log_group_arn}:*"]
    }],
    var.queue != null ? [{
      Sid      = "OwnQueue"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
      Resource = [var.queue.arn]
    }] : [],
    [{
      Sid      = "AsyncDeadLetter"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [var.async_dead_letter_arn]
    }],
    var.kms_key_arn != null ? [{
      Sid      = "DataKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.kms_key_arn]
    }] : [],
  )

  # Lambda's JSON log filter gives a line without a "level" key the level INFO and drops it
  # below a WARN threshold; the EMF metric documents carry none, so above INFO the threshold
  # would drop every metric. Lambda filters at INFO at most, and the binary's own subscriber
  # filters the rest: lambda_runtime's EnvFilter takes RUST_LOG's directives over
  # AWS_LAMBDA_LOG_LEVEL.
  application_log_level = contains(["WARN", "ERROR", "FATAL"], var.log_level) ? "INFO" : var.log_level
  environment           = merge(var.environment, { RUST_LOG = lower(var.log_level) })

  # jsonencode would write "Condition": null, which IAM refuses.
  statements = [
    for s in concat(local.own_statements, var.policy_statements) : { for k, v in s : k => v if v != null }
  ]
  statement_groups = [
    for g in var.policy_statement_groups : [for s in g : { for k, v in s : k => v if v != null }]
  ]
  inline_policy    = jsonencode({ Version = "2012-10-17", Statement = local.statements })
  managed_policies = [for g in local.statement_groups : jsonencode({ Version = "2012-10-17", Statement = g })]

  # IAM's sizes (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html), in
  # characters without whitespace, which jsonencode writes none of.
  inline_policy_chars  = 10240
  managed_policy_chars = 6144
}

resource "aws_iam_role" "this" {
  name        = var.name
  description = "Execution role of the ${var.name} Lambda function"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-access"
  role   = aws_iam_role.this.id
  policy = local.inline_policy

  lifecycle {
    precondition {
      condition     = alltrue([for s in concat(local.statements, flatten(local.statement_groups)) : length(s.Action) > 0 && length(s.Resource) > 0])
      error_message = "A statement of ${var.name}'s role names no action or no resource, which IAM refuses: ${join(", ", [for s in concat(local.statements, flatten(local.statement_groups)) : s.Sid if length(s.Action) == 0 || length(s.Resource) == 0])}."
    }
    precondition {
      condition     = length(local.inline_policy) <= local.inline_policy_chars
      error_message = "${var.name}'s inline policy is ${length(local.inline_policy)} characters; IAM holds ${local.inline_policy_chars} for all of a role's inline policies. Fewer secrets or topics named per feed would shrink it."
    }
    precondition {
      condition     = length(local.managed_policies) + (var.vpc == null ? 0 : 1) <= var.managed_policy_quota
      error_message = "${var.name}'s role needs ${length(local.managed_policies) + (var.vpc == null ? 0 : 1)} managed policies (its feed prefixes, 20 to a policy, and the VPC policy) and may have ${var.managed_policy_quota}: raise the IAM quota \"Managed policies per role\" (up to 20) and set iam_managed_policies_per_role, or use fewer, broader feed prefixes."
    }
  }
}

# The statements that grow with the config, one managed policy per group.
resource "aws_iam_policy" "grouped" {
  count = length(local.managed_policies)

  name        = "${var.name}-access-${count.index + 1}"
  description = "Part ${count.index + 1} of what the ${var.name} Lambda function touches (its feed prefixes)"
  policy      = local.managed_policies[count.index]
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = length(local.managed_policies[count.index]) <= local.managed_policy_chars
      error_message = "Managed policy ${count.index + 1} of ${var.name} is ${length(local.managed_policies[count.index])} characters; IAM holds ${local.managed_policy_chars}. Its 20 feed prefixes are too long."
    }
  }
}

resource "aws_iam_role_policy_attachment" "grouped" {
  count = length(local.managed_policies)

  role       = aws_iam_role.this.name
  policy_arn = aws_iam_policy.grouped[count.index].arn
}

# In a VPC, Lambda creates the function's network interfaces with its role.
resource "aws_iam_role_policy_attachment" "vpc" {
  count      = var.vpc == null ? 0 : 1
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:A VPC is opt-in per function (functions.<name>.vpc) for a database inside one; S3, SQS, Glue, Secrets Manager and the Redshift Data API are regional endpoints over TLS, where a VPC would only add NAT cost.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and signed artifacts from CI; the zips are built by cargo lambda and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_115:Concurrency is capped per trigger by the event source mapping's maximum concurrency; reserved concurrency is opt-in (functions.<name>.reserved_concurrency) because it takes from the account's pool.
  function_name    = var.name
  description      = var.description
  role             = aws_iam_role.this.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = var.zip_file
  source_code_hash = filebase64sha256(var.zip_file)
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds

  ephemeral_storage {
    size = var.ephemeral_storage_mb
  }
  kms_key_arn = var.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = local.environment
  }

  # The runtime's tracing subscriber reads AWS_LAMBDA_LOG_FORMAT (JSON lines for Logs
  # Insights) and RUST_LOG, set above to the configured level; Lambda's own filter stays
  # at INFO or below so the metric lines pass.
  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = local.application_log_level
    system_log_level      = "WARN"
  }

  dead_letter_config {
    target_arn = var.async_dead_letter_arn
  }

  dynamic "vpc_config" {
    for_each = var.vpc == null ? [] : [var.vpc]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tracing_config {
    mode = "PassThrough"
  }

  tags = var.tags

  # The role's policies must allow the queue and logs before the mapping polls, and in a
  # VPC let Lambda create the network interfaces when it creates the function; the log
  # group (retention, key) must exist before Lambda creates a bare one.
  depends_on = [
    aws_iam_role_policy.this, aws_iam_role_policy_attachment.grouped, aws_iam_role_policy_attachment.vpc,
    aws_cloudwatch_log_group.this,
  ]

  lifecycle {
    # Checked before the arguments, so a missing zip fails the plan with how to
    # build it rather than with filebase64sha256's "no such file".
    precondition {
      condition     = fileexists(var.zip_file)
      error_message = "No deployment package at ${var.zip_file} (a path relative to the Terraform root module). Build the functions' zips with infra/package, which runs cargo lambda build --release --arm64 --output-format zip for each functions/<name> package, or set lambda_zip_dir to the directory holding <function>/bootstrap.zip."
    }
  }
}

# Lambda runs a failed asynchronous invocation twice more by default; a function whose run is
# long and recorded (run-job) is better sent to the dead-letter queue at once.
resource "aws_lambda_function_event_invoke_config" "this" {
  count = var.async_retry_attempts != null ? 1 : 0

  function_name          = aws_lambda_function.this.function_name
  maximum_retry_attempts = var.async_retry_attempts
}

resource "aws_lambda_event_source_mapping" "this" {
  count = var.queue != null ? 1 : 0

  event_source_arn                   = var.queue.arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.queue.batch_size
  maximum_batching_window_in_seconds = var.queue.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.queue.max_concurrency
  }
}
