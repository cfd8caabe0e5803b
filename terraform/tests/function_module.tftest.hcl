# The function module on its own: the plan refuses what IAM would refuse at apply
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).

mock_provider "aws" {
  override_during = plan

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  name                  = "lft-parse-file"
  zip_file              = "tests/fixtures/lambda/parse-file/bootstrap.zip"
  memory_mb             = 1024
  timeout_seconds       = 300
  log_retention_days    = 365
  async_dead_letter_arn = "arn:aws:sqs:us-east-1:123456789012:lft-async-failures-dlq"
}

run "more_managed_policies_than_the_quota_are_refused" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    managed_policy_quota = 2
    vpc                  = { subnet_ids = ["subnet-0a"], security_group_ids = ["sg-0b"] }
    policy_statement_groups = [
      [{ Sid = "ReadLandedFiles", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::lft-landing/a/*"] }],
      [{ Sid = "ReadLandedFiles", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::lft-landing/b/*"] }],
    ]
  }

  expect_failures = [aws_iam_role_policy.this]
}

run "a_statement_without_a_resource_is_refused" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    policy_statements = [{ Sid = "ReadLandedFiles", Action = ["s3:GetObject"], Resource = [] }]
  }

  expect_failures = [aws_iam_role_policy.this]
}

run "two_groups_are_two_managed_policies_within_the_quota" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    policy_statement_groups = [
      [{ Sid = "ReadLandedFiles", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::lft-landing/a/*"] }],
      [{ Sid = "ReadLandedFiles", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::lft-landing/b/*"] }],
    ]
  }

  assert {
    condition = [for p in output.managed_policies : jsondecode(p).Statement[0].Resource] == [
      ["arn:aws:s3:::lft-landing/a/*"], ["arn:aws:s3:::lft-landing/b/*"],
    ]
    error_message = "each group is one managed policy, in order"
  }
}
