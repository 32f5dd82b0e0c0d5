output "bucket_id" {
  description = "Name of the lake bucket."
  value       = try(aws_s3_bucket.this[0].id, null)
}

output "bucket_arn" {
  description = "ARN of the lake bucket."
  value       = try(aws_s3_bucket.this[0].arn, null)
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the lake (readers need kms:Decrypt, writers kms:GenerateDataKey too)."
  value       = try(aws_kms_key.this[0].arn, null)
}

output "lake_url" {
  description = "The lake as wattcast takes it: s3://BUCKET/PREFIX (WATTCAST_LAKE)."
  value       = try("s3://${aws_s3_bucket.this[0].id}/${var.lake_prefix}", null)
}

output "registry_url" {
  description = "The model registry as wattcast takes it: s3://BUCKET/PREFIX (WATTCAST_REGISTRY)."
  value       = try("s3://${aws_s3_bucket.this[0].id}/${var.registry_prefix}", null)
}

output "athena_results_url" {
  description = "Where Athena writes query results: s3://BUCKET/PREFIX/."
  value       = try("s3://${aws_s3_bucket.this[0].id}/${var.athena_results_prefix}/", null)
}

output "prefixes" {
  description = "Key prefixes of the lake tables, the registry and the Athena results, for IAM policies."
  value = {
    lake           = var.lake_prefix
    registry       = var.registry_prefix
    athena_results = var.athena_results_prefix
  }
}

output "access_log_bucket_id" {
  description = "Name of the access-log bucket, or null when access logging is off."
  value       = try(aws_s3_bucket.access_logs[0].id, null)
}
