################################################################################
# EventBridge Scheduler role: run the scheduled services' tasks
################################################################################

locals {
  scheduled = var.create && length(var.scheduled_services) > 0
}

data "aws_iam_policy_document" "scheduler_assume" {
  count = local.scheduled ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = local.scheduled ? 1 : 0

  name               = "${var.name}-scheduler"
  path               = "/wattcast/"
  description        = "EventBridge Scheduler: start the scheduled wattcast tasks"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume[0].json

  tags = var.tags
}

#tfsec:ignore:aws-iam-no-policy-wildcards the scheduler runs the newest revision of each scheduled task definition; ":*" matches only that family's revisions
data "aws_iam_policy_document" "scheduler" {
  count = local.scheduled ? 1 : 0

  statement {
    sid       = "RunScheduledTasks"
    actions   = ["ecs:RunTask"]
    resources = [for s in var.scheduled_services : "arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${var.name}-${s}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account}:cluster/${var.ecs_cluster_name}"]
    }
  }

  # The schedule propagates the task definition's tags to the task: under
  # ECS tag-on-create authorization, RunTask with tags also needs
  # TagResource on the task it creates.
  statement {
    sid       = "TagScheduledTasks"
    actions   = ["ecs:TagResource"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task/${var.ecs_cluster_name}/*"]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  statement {
    sid     = "PassScheduledTaskRoles"
    actions = ["iam:PassRole"]
    resources = flatten([for s in var.scheduled_services : [
      aws_iam_role.task[s].arn,
      aws_iam_role.execution[s].arn,
    ]])
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count = local.scheduled ? 1 : 0

  name   = "run-scheduled-tasks"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler[0].json
}
