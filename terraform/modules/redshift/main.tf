# The role Redshift assumes for COPY (read the curated bucket's parts, decrypt with
# its key), and optionally a Serverless namespace and workgroup that use it.

data "aws_caller_identity" "current" {}

resource "aws_iam_role" "copy" {
  name        = "${var.name_prefix}-redshift-copy"
  description = "Assumed by Redshift to COPY the ${var.name_prefix} Parquet lake"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"] }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "copy" {
  name = "${var.name_prefix}-redshift-copy-read"
  role = aws_iam_role.copy.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "ReadLakeObjects"
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:GetObjectVersion"]
          Resource = [for p in var.copy_prefixes : "${var.curated_bucket_arn}/${p}*"]
        },
        {
          Sid       = "ListLakePrefixes"
          Effect    = "Allow"
          Action    = ["s3:ListBucket", "s3:GetBucketLocation"]
          Resource  = [var.curated_bucket_arn]
          Condition = { StringLike = { "s3:prefix" = [for p in var.copy_prefixes : "${p}*"] } }
        },
      ],
      # UNLOAD (run-job's exports and archives) writes only under these prefixes.
      length(var.unload_prefixes) > 0 ? [{
        Sid      = "WriteUnloads"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = [for p in var.unload_prefixes : "${var.curated_bucket_arn}/${p}*"]
      }] : [],
      var.kms_key_arn != null && length(var.unload_prefixes) > 0 ? [{
        Sid      = "EncryptUnloads"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      }] : [],
      var.kms_key_arn != null ? [{
        Sid      = "DecryptLake"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
      }] : [],
    )
  })
}

resource "aws_redshiftserverless_namespace" "this" {
  count = var.serverless.create ? 1 : 0

  namespace_name        = var.name_prefix
  db_name               = var.serverless.database_name
  admin_username        = var.serverless.admin_username
  manage_admin_password = true
  kms_key_id            = var.kms_key_arn
  iam_roles             = [aws_iam_role.copy.arn]
  default_iam_role_arn  = aws_iam_role.copy.arn
  log_exports           = ["userlog", "connectionlog", "useractivitylog"]
  tags                  = var.tags
}

resource "aws_redshiftserverless_workgroup" "this" {
  count = var.serverless.create ? 1 : 0

  namespace_name       = aws_redshiftserverless_namespace.this[0].namespace_name
  workgroup_name       = var.name_prefix
  base_capacity        = var.serverless.base_capacity_rpus
  subnet_ids           = length(var.serverless.subnet_ids) > 0 ? var.serverless.subnet_ids : null
  security_group_ids   = length(var.serverless.security_group_ids) > 0 ? var.serverless.security_group_ids : null
  publicly_accessible  = var.serverless.publicly_accessible
  enhanced_vpc_routing = true
  tags                 = var.tags
}
