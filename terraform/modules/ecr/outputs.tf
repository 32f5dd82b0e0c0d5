output "repository_url" {
  description = "URL of the repository, <account>.dkr.ecr.<region>.amazonaws.com/<name>: images are <url>:<git sha>."
  value       = try(aws_ecr_repository.this[0].repository_url, null)
}

output "repository_arn" {
  description = "ARN of the repository (for pull permissions)."
  value       = try(aws_ecr_repository.this[0].arn, null)
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the images (pullers need kms:Decrypt through ECR)."
  value       = try(aws_kms_key.this[0].arn, null)
}
