data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  services  = var.create ? var.services : {}
  s3_via    = "s3.${data.aws_region.current.region}.amazonaws.com"
  bucket    = var.lake_bucket_arn
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region
  partition = data.aws_partition.current.partition
}

################################################################################
# Roles: one task role and one execution role per service
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    # Only tasks of this account may assume the roles (confused deputy).
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account}:*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "task" {
  for_each = local.services

  name                 = "${var.name}-${each.key}-task"
  path                 = "/wattcast/"
  description          = "wattcast ${each.key}: what the service's code may do"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  max_session_duration = 3600

  tags = var.tags
}

resource "aws_iam_role" "execution" {
  for_each = local.services

  name               = "${var.name}-${each.key}-exec"
  path               = "/wattcast/"
  description        = "wattcast ${each.key}: what ECS needs to start it (image pull, logs)"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

################################################################################
# Execution role: pull the image, write the service's own log group
################################################################################

#tfsec:ignore:aws-iam-no-policy-wildcards ecr:GetAuthorizationToken has no resource-level permissions (AWS requires "*"); log streams are created per task under the service's own log group (":*" is the stream part of its ARN)
data "aws_iam_policy_document" "execution" {
  for_each = local.services

  statement {
    sid       = "ECRLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullWattcastImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arns[each.key]}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.services

  name   = "ecs-start"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}
