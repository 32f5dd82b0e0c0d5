# live-testing: the same stack as prod in its own VPC and state, deployed on
# every push to the live-testing branch and smoke-tested by CI. Small and
# cheap: MSK Serverless, one task per service, short log retention.

provider "aws" {
  region              = var.aws_region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = {
      Project     = "wattcast"
      Environment = "live-testing"
      ManagedBy   = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

module "wattcast" {
  source = "../../modules/wattcast"

  name     = "wattcast-live-testing"
  vpc_cidr = "10.41.0.0/16"
  azs      = ["${var.aws_region}a", "${var.aws_region}b", "${var.aws_region}c"]

  msk_mode   = "serverless"
  partitions = 3

  lake_bucket_name = "wattcast-live-testing-lake-${data.aws_caller_identity.current.account_id}"
  regions          = var.regions

  image_tag         = var.image_tag
  ci_role_arns      = var.ci_role_arns
  enable_smoke_task = true
  # Train every 6 hours so a deploy is exercised by a training run soon.
  trainer_schedule = "cron(0 */6 * * ? *)"

  log_retention_days = 14
  alarm_emails       = var.alarm_emails
}
