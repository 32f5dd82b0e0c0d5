data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  namespace = "wattcast/${var.name}"
  services  = var.create ? toset(var.services) : toset([])
}

################################################################################
# KMS key for the log groups and the alarm topic
################################################################################

#tfsec:ignore:aws-iam-no-policy-wildcards a key policy's Resource "*" means this key; kms:* for the account root is AWS's default key policy, which hands the key's use to IAM policies
data "aws_iam_policy_document" "kms" {
  count = var.create ? 1 : 0

  # The account administers the key through IAM, as with the default policy.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms publish to the encrypted SNS topic.
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create ? 1 : 0

  description             = "wattcast ${var.name}: CloudWatch log groups and the alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.create ? 1 : 0

  name          = "alias/${var.name}-observability"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# Log groups, one per service
################################################################################

resource "aws_cloudwatch_log_group" "service" {
  for_each = local.services

  name              = "/wattcast/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this[0].arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "msk" {
  count = var.create ? 1 : 0

  name              = "/wattcast/${var.name}/msk-brokers"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this[0].arn

  tags = var.tags
}

################################################################################
# Alarm topic
################################################################################

resource "aws_sns_topic" "alarms" {
  count = var.create ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.this[0].arn

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.create ? toset(var.alarm_emails) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}
