################################################################################
# Glue database and tables
################################################################################

variable "create" {
  description = "Whether to create the catalog. Default: true."
  type        = bool
  default     = true
}

variable "name" {
  description = "Environment name, e.g. `wattcast-prod`: the workgroup is named after it, and the Glue database after it with - replaced by _ (`wattcast_prod`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,60}$", var.name))
    error_message = "The name must be 1-60 of a-z, 0-9 and -."
  }
}

variable "lake_bucket" {
  description = "Name of the lake bucket."
  type        = string
}

variable "lake_prefix" {
  description = "Key prefix of the lake tables in the bucket, without slashes at either end (the lake module's `prefixes.lake`)."
  type        = string
  default     = "lake"
}

variable "region_projection" {
  description = "How Athena projects the `region` partition: `enum` lists var.regions (any query works; a new region needs an apply), `injected` takes the region from the query (every query must filter on region with = or IN; new regions need nothing). https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html"
  type        = string
  default     = "enum"

  validation {
    condition     = contains(["enum", "injected"], var.region_projection)
    error_message = "The region projection must be enum or injected."
  }
}

variable "regions" {
  description = "Regions in the lake (the `region=` partition values, e.g. [\"FI\", \"GB-A\"]), for the enum projection."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$", r))])
    error_message = "Region ids are 1-32 of A-Z a-z 0-9 _ . - (schemas.Price.Region)."
  }
}

variable "date_range_start" {
  description = "First `date=` partition Athena projects, YYYY-MM-DD; the range ends at NOW+2DAYS, or NOW+16DAYS for weather_forecast (event times run ahead of now). Rows of earlier dates stay in the lake but are invisible to Athena: set an earlier date to query them (the schemas accept years from 1990; ENTSO-E imports reach back to 2015)."
  type        = string
  default     = "2015-01-01"

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.date_range_start))
    error_message = "Give the date as YYYY-MM-DD."
  }
}

################################################################################
# Athena workgroup
################################################################################

variable "athena_results_url" {
  description = "s3://BUCKET/PREFIX/ where the workgroup writes query results (enforced for every query in the workgroup)."
  type        = string

  validation {
    condition     = can(regex("^s3://.+/$", var.athena_results_url))
    error_message = "Give an s3:// URL ending in /."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the Athena query results (SSE_KMS), normally the lake key."
  type        = string
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Athena cancels a query that scans more than this many bytes (a guard against an unfiltered scan of the whole lake); minimum 10 MB."
  type        = number
  default     = 10737418240 # 10 GiB

  validation {
    condition     = var.bytes_scanned_cutoff_per_query >= 10485760
    error_message = "Athena's minimum cutoff is 10485760 bytes (10 MB)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
