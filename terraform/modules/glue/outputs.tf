output "name" {
  description = "Name of the Glue database."
  value       = aws_glue_catalog_database.this.name
}

output "arn" {
  description = "ARN of the Glue database."
  value       = aws_glue_catalog_database.this.arn
}
