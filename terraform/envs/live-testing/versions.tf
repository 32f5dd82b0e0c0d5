terraform {
  # 1.5.7 is the oldest Terraform this code supports and the version CI pins
  # (see terraform/README.md on state locking with newer versions).
  required_version = ">= 1.5.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }

  # Remote state in S3, locked with DynamoDB, encrypted with KMS. The bucket,
  # table, key and region come from backend.hcl (created by
  # terraform/bootstrap): terraform init -backend-config=backend.hcl
  backend "s3" {
    key     = "wattcast/live-testing/terraform.tfstate"
    encrypt = true
  }
}
