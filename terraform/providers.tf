# The production provider: credentials from the normal chain (env, profile, SSO,
# instance role). The local stack (infra/stack) points it at moto with a generated
# *_override.tf in its staged copy, so nothing local lives here.
provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge({ Project = "landfall", NamePrefix = var.name_prefix }, var.tags)
  }
}
