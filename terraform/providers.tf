locals {
  # Set only for the local stack (moto on loopback). In production it is null and
  # the provider behaves exactly like a plain `provider "aws"` block.
  local_endpoint = var.aws_endpoint_url != null
}

provider "aws" {
  region = var.aws_region

  # Dummy credentials only when talking to a local endpoint; null keeps the normal
  # credential chain (env, profile, SSO, instance role) in production.
  access_key = local.local_endpoint ? "test" : null
  secret_key = local.local_endpoint ? "test" : null

  s3_use_path_style           = local.local_endpoint
  skip_credentials_validation = local.local_endpoint
  # Even locally the provider asks STS (moto answers 123456789012) for the account:
  # with skip_requesting_account_id it builds ARNs with an empty account (e.g. the
  # Glue database id ":landfall_local" and its tags ARN, which then never converge).
  skip_requesting_account_id = false
  skip_metadata_api_check    = local.local_endpoint
  skip_region_validation     = local.local_endpoint

  dynamic "endpoints" {
    for_each = local.local_endpoint ? [var.aws_endpoint_url] : []
    content {
      cloudwatch     = endpoints.value
      events         = endpoints.value
      glue           = endpoints.value
      iam            = endpoints.value
      kms            = endpoints.value
      lambda         = endpoints.value
      logs           = endpoints.value
      s3             = endpoints.value
      scheduler      = endpoints.value
      secretsmanager = endpoints.value
      sns            = endpoints.value
      sqs            = endpoints.value
      sts            = endpoints.value
    }
  }

  default_tags {
    tags = merge({ Project = "landfall", NamePrefix = var.name_prefix }, var.tags)
  }
}
