output "copy_role_arn" {
  description = "Role for COPY's IAM_ROLE; attach it to a cluster or Serverless namespace."
  value       = aws_iam_role.copy.arn
}

output "copy_role_policy" {
  description = "The COPY role's access policy document (JSON)."
  value       = aws_iam_role_policy.copy.policy
}

output "workgroup_arn" {
  description = "ARN of the created Serverless workgroup (null when none is created)."
  value       = one(aws_redshiftserverless_workgroup.this[*].arn)
}

output "workgroup_name" {
  description = "Name of the created Serverless workgroup (null when none is created)."
  value       = one(aws_redshiftserverless_workgroup.this[*].workgroup_name)
}

output "namespace_name" {
  description = "Name of the created Serverless namespace (null when none is created)."
  value       = one(aws_redshiftserverless_namespace.this[*].namespace_name)
}
