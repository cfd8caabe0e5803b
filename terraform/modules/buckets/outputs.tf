output "id" {
  description = "Bucket name."
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "Bucket ARN."
  value       = aws_s3_bucket.this.arn
}

output "bucket_regional_domain_name" {
  description = "Regional domain name of the bucket."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}

output "sse_algorithm" {
  description = "Default encryption of the bucket: aws:kms or AES256."
  value       = var.kms_key_arn != null ? "aws:kms" : "AES256"
}

output "public_access_block" {
  description = "The bucket's public access block settings."
  value = {
    block_public_acls       = aws_s3_bucket_public_access_block.this.block_public_acls
    block_public_policy     = aws_s3_bucket_public_access_block.this.block_public_policy
    ignore_public_acls      = aws_s3_bucket_public_access_block.this.ignore_public_acls
    restrict_public_buckets = aws_s3_bucket_public_access_block.this.restrict_public_buckets
  }
}

output "policy" {
  description = "The bucket policy (JSON), null when deny_insecure_transport is false."
  value       = one(aws_s3_bucket_policy.this[*].policy)
}
