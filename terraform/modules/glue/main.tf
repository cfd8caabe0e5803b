# The Glue Data Catalog database that register-partitions fills with one table per
# curated table (Parquet, partition key dt).

resource "aws_glue_catalog_database" "this" {
  name         = var.database_name
  description  = var.description
  location_uri = var.location_uri
  tags         = var.tags
}
