# Bootstrap: what the environments need before their first init. Applied once
# by an administrator, with local state (then migrated, see versions.tf):
#   - the Terraform state bucket (versioned, KMS, TLS only) and lock table;
#   - GitHub's OIDC provider and one role per CI job, so that workflows get
#     short-lived credentials and no long-lived AWS key exists anywhere.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge({ Project = "wattcast", ManagedBy = "terraform", Component = "bootstrap" }, var.tags)
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  bucket  = "wattcast-tfstate-${local.account}"
}

################################################################################
# State: S3 bucket and DynamoDB lock table
################################################################################

resource "aws_kms_key" "state" {
  description             = "wattcast Terraform state and lock table"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "state" {
  name          = "alias/wattcast-tfstate"
  target_key_id = aws_kms_key.state.key_id
}

#tfsec:ignore:aws-s3-enable-bucket-logging only Terraform touches this bucket, through the CI roles whose sessions CloudTrail records; S3 access logs would need a second, SSE-S3-only bucket; turn on CloudTrail S3 data events for it if per-object audit is required
resource "aws_s3_bucket" "state" {
  bucket        = local.bucket
  force_destroy = false

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  # Every apply writes a new state version: keep 90 days of them to roll
  # back from a bad apply.
  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.state]
}

# Terraform 1.5.7 locks S3 state through DynamoDB; from 1.10 the backend's
# use_lockfile = true (an S3 lock object) replaces this table.
resource "aws_dynamodb_table" "lock" {
  name         = "wattcast-tfstate-lock"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.state.arn
  }

  point_in_time_recovery {
    enabled = true
  }

  deletion_protection_enabled = true
}
