terraform {
  required_version = ">= 1.5.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }

  # Bootstrap creates the state bucket, so its own state starts local. After
  # the first apply, move it into the bucket it made (terraform/README.md):
  # uncomment, fill in from the outputs, and run terraform init -migrate-state.
  # backend "s3" {
  #   bucket         = "wattcast-tfstate-<account>"
  #   key            = "wattcast/bootstrap/terraform.tfstate"
  #   region         = "eu-west-1"
  #   dynamodb_table = "wattcast-tfstate-lock"
  #   encrypt        = true
  # }
}
