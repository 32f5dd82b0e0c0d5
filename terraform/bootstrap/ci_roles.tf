################################################################################
# GitHub Actions OIDC: short-lived credentials per job, no stored AWS keys
################################################################################

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 0 : 1

  url = "https://token.actions.githubusercontent.com"
}

locals {
  oidc_arn = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn

  # Who may assume each role: the `sub` claim GitHub puts in the job's token.
  # A job that names a GitHub environment gets repo:<r>:environment:<env>;
  # the environment's protection rules (branch, reviewers) gate the job
  # before it can ask for the token.
  ci_roles = {
    # live-testing: build, push, apply, smoke test.
    "live-testing" = {
      subjects = ["repo:${var.github_repository}:environment:live-testing"]
      state    = ["wattcast/live-testing/*"]
      deploy   = true
    }
    # prod plan: runs on the prod branch before approval; read-only.
    "prod-plan" = {
      subjects = ["repo:${var.github_repository}:ref:refs/heads/prod"]
      state    = ["wattcast/prod/*"]
      deploy   = false
    }
    # prod apply: only in the `prod` environment, after a required reviewer
    # approved the job.
    "prod" = {
      subjects = ["repo:${var.github_repository}:environment:prod"]
      state    = ["wattcast/prod/*"]
      deploy   = true
    }
  }
}

data "aws_iam_policy_document" "ci_assume" {
  for_each = local.ci_roles

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value.subjects
    }
  }
}

resource "aws_iam_role" "ci" {
  for_each = local.ci_roles

  name                 = "wattcast-ci-${each.key}"
  path                 = "/wattcast-ci/"
  description          = "GitHub Actions (${var.github_repository}) ${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.ci_assume[each.key].json
  max_session_duration = 3600
}

# State: every CI role reads and locks its own environment's state; the
# deploy roles write it.
data "aws_iam_policy_document" "ci_state" {
  for_each = local.ci_roles

  statement {
    sid       = "ListState"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }
  statement {
    sid       = "ReadWriteOwnState"
    actions   = each.value.deploy ? ["s3:GetObject", "s3:PutObject"] : ["s3:GetObject"]
    resources = [for p in each.value.state : "${aws_s3_bucket.state.arn}/${p}"]
  }
  statement {
    sid       = "Lock"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable"]
    resources = [aws_dynamodb_table.lock.arn]
  }
  statement {
    sid       = "StateKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.state.arn]
  }
}

resource "aws_iam_role_policy" "ci_state" {
  for_each = local.ci_roles

  name   = "terraform-state"
  role   = aws_iam_role.ci[each.key].id
  policy = data.aws_iam_policy_document.ci_state[each.key].json
}

# Plans read everything they manage.
resource "aws_iam_role_policy_attachment" "ci_read" {
  for_each = local.ci_roles

  role       = aws_iam_role.ci[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/ReadOnlyAccess"
}

# Deploys create what the stack holds (VPC, MSK, ECS, S3, Glue, Athena,
# KMS, CloudWatch, Scheduler): PowerUserAccess covers all but IAM, and IAM
# is limited to wattcast's own roles (path /wattcast/) below.
resource "aws_iam_role_policy_attachment" "ci_deploy" {
  for_each = { for k, r in local.ci_roles : k => r if r.deploy }

  role       = aws_iam_role.ci[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/PowerUserAccess"
}

#tfsec:ignore:aws-iam-no-policy-wildcards the deploy roles manage the stack's roles, all under the /wattcast/ path: the wildcard is the role name under that path, and PassRole is limited to ECS tasks, VPC flow logs and EventBridge Scheduler
data "aws_iam_policy_document" "ci_iam" {
  statement {
    sid = "ManageWattcastRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
      "iam:TagRole", "iam:UntagRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
      "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["arn:${data.aws_partition.current.partition}:iam::${local.account}:role/wattcast/*"]
  }
  statement {
    sid       = "PassWattcastRoles"
    actions   = ["iam:PassRole"]
    resources = ["arn:${data.aws_partition.current.partition}:iam::${local.account}:role/wattcast/*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com", "vpc-flow-logs.amazonaws.com", "scheduler.amazonaws.com"]
    }
  }
  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${data.aws_partition.current.partition}:iam::${local.account}:role/aws-service-role/*"]
  }
}

resource "aws_iam_role_policy" "ci_iam" {
  for_each = { for k, r in local.ci_roles : k => r if r.deploy }

  name   = "manage-wattcast-roles"
  role   = aws_iam_role.ci[each.key].id
  policy = data.aws_iam_policy_document.ci_iam.json
}
