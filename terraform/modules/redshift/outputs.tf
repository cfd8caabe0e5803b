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

output "workgroup_settings" {
  description = "The created workgroup's network settings (null when none is created)."
  value = one([for w in aws_redshiftserverless_workgroup.this : {
    enhanced_vpc_routing = w.enhanced_vpc_routing
    subnet_ids           = w.subnet_ids
  }])
}

output "s3_endpoint" {
  description = "The S3 gateway endpoint created for enhanced VPC routing (null when none)."
  value = one([for e in aws_vpc_endpoint.s3 : {
    service_name      = e.service_name
    vpc_endpoint_type = e.vpc_endpoint_type
    route_table_ids   = e.route_table_ids
  }])
}

output "copy_role_trust_policy" {
  description = "The COPY role's trust policy document (JSON)."
  value       = aws_iam_role.copy.assume_role_policy
}
