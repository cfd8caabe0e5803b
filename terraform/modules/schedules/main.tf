# EventBridge Scheduler schedules that invoke Lambda functions, each with a retry
# policy and a dead-letter queue, under one group and one role that may invoke
# exactly the targets named here.

locals {
  target_arns = distinct([for s in values(var.schedules) : s.target_arn])
}

resource "aws_scheduler_schedule_group" "this" {
  name = var.name_prefix
  tags = var.tags
}

resource "aws_iam_role" "scheduler" {
  name        = "${var.name_prefix}-scheduler"
  description = "Lets EventBridge Scheduler invoke the ${var.name_prefix} schedule targets"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceArn" = aws_scheduler_schedule_group.this.arn } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "${var.name_prefix}-scheduler-invoke"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        { Sid = "InvokeTargets", Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = local.target_arns },
        { Sid = "DeadLetter", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [var.dead_letter_arn] },
      ],
      var.kms_key_arn != null ? [{ Sid = "PayloadKey", Effect = "Allow", Action = ["kms:Decrypt"], Resource = [var.kms_key_arn] }] : [],
    )
  })
}

resource "aws_scheduler_schedule" "this" {
  for_each = var.schedules

  name                         = each.key
  group_name                   = aws_scheduler_schedule_group.this.name
  schedule_expression          = each.value.schedule_expression
  schedule_expression_timezone = each.value.timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = each.value.target_arn
    role_arn = aws_iam_role.scheduler.arn
    input    = each.value.payload

    retry_policy {
      maximum_retry_attempts       = var.maximum_retry_attempts
      maximum_event_age_in_seconds = var.maximum_event_age_seconds
    }

    dead_letter_config {
      arn = var.dead_letter_arn
    }
  }
}
