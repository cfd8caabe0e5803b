# A work queue fed by S3 event notifications, with its dead-letter queue.
#
# Redrive and access policies are set inline on aws_sqs_queue (one CreateQueue /
# SetQueueAttributes call) rather than with aws_sqs_queue_policy /
# aws_sqs_queue_redrive_policy: separate resources race each other and are
# mishandled by moto (the local stack).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # The queue's own ARN, needed inside its inline policy (a resource cannot
  # reference its own attributes).
  queue_arn = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.name}"

  s3_send_condition = merge(
    { ArnLike = { "aws:SourceArn" = var.source_bucket_arns } },
    var.source_account_id != null ? { StringEquals = { "aws:SourceAccount" = var.source_account_id } } : {},
  )

  statements = concat(
    length(var.source_bucket_arns) > 0 ? [{
      Sid       = "AllowS3EventNotifications"
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = local.queue_arn
      Condition = local.s3_send_condition
    }] : [],
    [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "sqs:*"
      Resource  = local.queue_arn
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }],
  )
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "this" {
  name                       = var.name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = var.receive_wait_time_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  policy = jsonencode({
    Version   = "2012-10-17"
    Id        = "${var.name}-policy"
    Statement = local.statements
  })

  tags = var.tags
}
