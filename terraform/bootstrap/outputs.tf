output "state_bucket" {
  description = "S3 bucket of the Terraform state: `bucket` in each environment's backend.hcl."
  value       = aws_s3_bucket.state.id
}

output "lock_table" {
  description = "DynamoDB lock table: `dynamodb_table` in backend.hcl."
  value       = aws_dynamodb_table.lock.name
}

output "state_kms_key_arn" {
  description = "KMS key of the state: `kms_key_id` in backend.hcl."
  value       = aws_kms_key.state.arn
}

output "ci_role_arns" {
  description = "Role of each CI job, by job: set them as the GitHub environment variables AWS_ROLE_ARN (docs/cicd.md)."
  value       = { for k, r in aws_iam_role.ci : k => r.arn }
}
