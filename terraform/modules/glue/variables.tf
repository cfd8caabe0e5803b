variable "database_name" {
  type        = string
  description = "Name of the Glue Data Catalog database (lowercase letters, digits, underscores)."

  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.database_name))
    error_message = "database_name must be lowercase letters, digits and underscores."
  }
}

variable "description" {
  type        = string
  description = "Description of the database."
  default     = "landfall Parquet lake"
}

variable "location_uri" {
  type        = string
  description = "Default location of the database's tables, e.g. s3://<curated>/tables/. Null for none."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for the database."
  default     = {}
}
