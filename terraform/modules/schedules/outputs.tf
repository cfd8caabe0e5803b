output "group_name" {
  description = "Name of the schedule group."
  value       = aws_scheduler_schedule_group.this.name
}

output "role_arn" {
  description = "Role Scheduler assumes to invoke the targets."
  value       = aws_iam_role.scheduler.arn
}

output "policy" {
  description = "The Scheduler role's access policy document (JSON)."
  value       = aws_iam_role_policy.scheduler.policy
}

output "schedules" {
  description = "Per schedule: its ARN, expression, target and input."
  value = {
    for k, s in aws_scheduler_schedule.this : k => {
      arn                 = s.arn
      schedule_expression = s.schedule_expression
      target_arn          = s.target[0].arn
      input               = s.target[0].input
      dead_letter_arn     = s.target[0].dead_letter_config[0].arn
      retry_policy        = s.target[0].retry_policy[0]
    }
  }
}
