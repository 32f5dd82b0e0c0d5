################################################################################
# Bucket
################################################################################

variable "create" {
  description = "Whether to create the lake. Default: true."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the lake bucket, globally unique, e.g. `wattcast-prod-lake-123456789012`. Forces new resource (which prevent_destroy refuses)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "S3 bucket names are 3-63 of a-z, 0-9, . and -, starting and ending with a letter or digit."
  }
}

variable "lake_prefix" {
  description = "Key prefix of the Parquet tables (`<prefix>/<table>/region=R/date=YYYY-MM-DD/<file>.parquet`), without slashes at either end."
  type        = string
  default     = "lake"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]+(/[a-zA-Z0-9_-]+)*$", var.lake_prefix))
    error_message = "Give a key prefix without a leading or trailing slash, e.g. lake or data/lake."
  }
}

variable "registry_prefix" {
  description = "Key prefix of the model registry (weights and model cards)."
  type        = string
  default     = "registry"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]+(/[a-zA-Z0-9_-]+)*$", var.registry_prefix))
    error_message = "Give a key prefix without a leading or trailing slash, e.g. lake or data/lake."
  }
}

variable "athena_results_prefix" {
  description = "Key prefix where Athena writes query results."
  type        = string
  default     = "athena-results"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]+(/[a-zA-Z0-9_-]+)*$", var.athena_results_prefix))
    error_message = "Give a key prefix without a leading or trailing slash, e.g. lake or data/lake."
  }
}

################################################################################
# Lifecycle
################################################################################

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept before it expires (versioning protects against an overwrite by mistake for this long)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "Keep noncurrent versions for at least 1 day."
  }
}

variable "lake_infrequent_access_after_days" {
  description = "Days after which lake objects move to STANDARD_IA (older partitions are read by backtests and retraining only). 0 keeps them in STANDARD. S3 requires at least 30."
  type        = number
  default     = 90

  validation {
    condition     = var.lake_infrequent_access_after_days == 0 || var.lake_infrequent_access_after_days >= 30
    error_message = "S3 transitions to STANDARD_IA need at least 30 days (or 0 to disable)."
  }
}

variable "athena_results_expiration_days" {
  description = "Days before Athena query results expire."
  type        = number
  default     = 30
}

################################################################################
# Access logs
################################################################################

variable "access_log_retention_days" {
  description = "Days to keep S3 server access logs of the lake bucket (written to a companion `<bucket>-access-logs` bucket); 0 disables access logging."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
