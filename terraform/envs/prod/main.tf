# prod: the data persists across deploys. The lake bucket, its KMS key and
# the MSK cluster carry prevent_destroy, so a plan that would replace or
# destroy them fails instead of applying (terraform/README.md says how to
# retire one on purpose).

provider "aws" {
  region              = var.aws_region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = {
      Project     = "wattcast"
      Environment = "prod"
      ManagedBy   = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

module "wattcast" {
  source = "../../modules/wattcast"

  name     = "wattcast-prod"
  vpc_cidr = "10.40.0.0/16"
  azs      = ["${var.aws_region}a", "${var.aws_region}b", "${var.aws_region}c"]

  # Provisioned MSK: three brokers over three zones, replication 3 with
  # min.insync.replicas 2; transactions and compacted changelogs as in any
  # Apache Kafka.
  msk_mode = "provisioned"
  msk_provisioned = {
    broker_instance_type = "kafka.m7g.large"
    broker_count         = 3
    broker_volume_size   = 200
  }
  partitions = 6

  lake_bucket_name = "wattcast-prod-lake-${data.aws_caller_identity.current.account_id}"
  regions          = var.regions

  image_tag    = var.image_tag
  ci_role_arns = var.ci_role_arns
  service_overrides = {
    processor = { desired_count = 2 }
    scorer    = { desired_count = 2 }
  }

  log_retention_days = 365
  alarm_emails       = var.alarm_emails
}
