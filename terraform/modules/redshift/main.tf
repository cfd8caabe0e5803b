# The role Redshift assumes for COPY (read the curated bucket's parts, decrypt with
# its key), and optionally a Serverless namespace and workgroup that use it.

data "aws_region" "current" {}

resource "aws_iam_role" "copy" {
  name        = "${var.name_prefix}-redshift-copy"
  description = "Assumed by Redshift to COPY the ${var.name_prefix} Parquet lake"
  # Redshift documents sts:ExternalId (the database users allowed to use the role) as the way to
  # scope this trust, not aws:SourceAccount, which it is not documented to send (a condition on a
  # key the request lacks denies). Only a cluster or namespace the role is associated with can
  # assume it, and associating it takes iam:PassRole in this account.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{ for k, v in {
      Effect    = "Allow"
      Principal = { Service = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"] }
      Action    = "sts:AssumeRole"
      Condition = length(var.external_ids) > 0 ? { StringEquals = { "sts:ExternalId" = var.external_ids } } : null
    } : k => v if v != null }]
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
          # COPY lists its manifests and parts; UNLOAD lists its target first (it refuses to
          # overwrite files it finds there). s3:prefix is only in a ListBucket request's context.
          Sid       = "ListLakePrefixes"
          Effect    = "Allow"
          Action    = ["s3:ListBucket"]
          Resource  = [var.curated_bucket_arn]
          Condition = { StringLike = { "s3:prefix" = [for p in concat(var.copy_prefixes, var.unload_prefixes) : "${p}*"] } }
        },
        {
          # A bucket-level call with no prefix in its context: under the condition above it would be denied.
          Sid      = "BucketLocation"
          Effect   = "Allow"
          Action   = ["s3:GetBucketLocation"]
          Resource = [var.curated_bucket_arn]
        },
      ],
      # UNLOAD (run-job's exports and archives) works only under these prefixes: GET, LIST and PUT
      # (Redshift's minimum for UNLOAD), and DELETE for CLEANPATH and a re-run's stale files.
      length(var.unload_prefixes) > 0 ? [{
        Sid      = "WriteUnloads"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
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
  enhanced_vpc_routing = var.serverless.enhanced_vpc_routing
  tags                 = var.tags
}

# The S3 gateway endpoint enhanced VPC routing needs, on the route tables of the workgroup's
# subnets (a gateway endpoint serves only buckets in its own region, as the curated bucket is).
resource "aws_vpc_endpoint" "s3" {
  count = var.serverless.create && var.serverless.s3_endpoint != null ? 1 : 0

  vpc_id            = var.serverless.s3_endpoint.vpc_id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.serverless.s3_endpoint.route_table_ids
  tags              = merge(var.tags, { Name = "${var.name_prefix}-redshift-s3" })
}
