data "aws_region" "current" {}

locals {
  services  = var.create ? var.services : {}
  long_run  = { for k, s in local.services : k => s if s.schedule == null && !s.on_demand }
  scheduled = { for k, s in local.services : k => s if s.schedule != null }
}

################################################################################
# ECS cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  count = var.create ? 1 : 0

  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  count = var.create ? 1 : 0

  cluster_name       = aws_ecs_cluster.this[0].name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

################################################################################
# Security groups: no ingress (nothing calls the services); egress only to
# MSK, the VPC endpoints, S3, and (producers) the internet on 443
################################################################################

resource "aws_security_group" "service" {
  for_each = local.services

  name_prefix = "${var.name}-${each.key}-"
  description = "wattcast ${each.key}: egress to MSK, AWS endpoints${each.value.internet ? ", public APIs" : ""}"
  vpc_id      = var.vpc_id

  tags = merge({ Name = "${var.name}-${each.key}" }, var.tags)

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "msk" {
  for_each = local.services

  security_group_id            = aws_security_group.service[each.key].id
  description                  = "Kafka (IAM over TLS) to MSK"
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
  referenced_security_group_id = var.msk_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "endpoints" {
  for_each = local.services

  security_group_id            = aws_security_group.service[each.key].id
  description                  = "HTTPS to the interface VPC endpoints (ECR, logs, STS)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.endpoints_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  for_each = local.services

  security_group_id = aws_security_group.service[each.key].id
  description       = "HTTPS to S3 through the gateway endpoint (lake, registry, image layers)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.s3_prefix_list_id
}

#tfsec:ignore:aws-ec2-no-public-egress-sgr the producers poll public HTTPS APIs (Octopus Energy, Open-Meteo) whose addresses are not fixed; egress is 443 only, through the NAT gateway, and only for services with internet = true
resource "aws_vpc_security_group_egress_rule" "internet" {
  for_each = { for k, s in local.services : k => s if s.internet }

  security_group_id = aws_security_group.service[each.key].id
  description       = "HTTPS to the public price and weather APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# The AWS DNS resolver (VPC base + 2) answers on the VPC's own address; SG
# rules do not filter it, so no DNS rule is needed.

################################################################################
# Task definitions: one container, read-only root, non-root, JSON logs
################################################################################

resource "aws_ecs_task_definition" "this" {
  for_each = local.services

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  task_role_arn            = var.task_role_arns[each.key]
  execution_role_arn       = var.execution_role_arns[each.key]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Scratch space (the image's working directory) on a read-only root.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name      = "wattcast"
    image     = var.image
    essential = true
    command   = each.value.command
    # 65532 is the image's non-root user; set here too so a base image
    # without USER still never runs as root.
    user                   = "65532:65532"
    readonlyRootFilesystem = true
    privileged             = false
    # Every stage stops cleanly on SIGTERM, committing only what is
    # durable; give it up to stop_timeout seconds before SIGKILL.
    stopTimeout = each.value.stop_timeout
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    environment = [for k, v in merge(var.environment, each.value.environment) : { name = k, value = v }]
    linuxParameters = {
      initProcessEnabled = true
      capabilities       = { drop = ["ALL"] }
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = var.log_group_names[each.key]
        "awslogs-region"        = data.aws_region.current.region
        "awslogs-stream-prefix" = each.key
        "mode"                  = "non-blocking"
        "max-buffer-size"       = "4m"
      }
    }
  }])

  tags = var.tags
}

################################################################################
# Long-running services: producers, processor, scorer
################################################################################

resource "aws_ecs_service" "this" {
  for_each = local.long_run

  name            = each.key
  cluster         = aws_ecs_cluster.this[0].id
  task_definition = aws_ecs_task_definition.this[each.key].arn
  desired_count   = each.value.desired_count
  launch_type     = "FARGATE"

  # Rolling deploys: the new task joins the consumer group before the old
  # one leaves; a task that cannot start rolls the deploy back.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  enable_execute_command = false
  propagate_tags         = "SERVICE"
  wait_for_steady_state  = false

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.service[each.key].id]
    assign_public_ip = false
  }

  tags = var.tags
}

################################################################################
# Scheduled tasks: EventBridge Scheduler runs the trainer as an ECS task
################################################################################

resource "aws_scheduler_schedule" "this" {
  for_each = local.scheduled

  name                         = "${var.name}-${each.key}"
  description                  = "Run wattcast ${join(" ", each.value.command)} on ${each.value.schedule} (${each.value.schedule_timezone})"
  schedule_expression          = each.value.schedule
  schedule_expression_timezone = each.value.schedule_timezone
  state                        = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.this[0].arn
    role_arn = var.scheduler_role_arn

    ecs_parameters {
      # The family without a revision would also work; the exact revision
      # makes a deploy switch the schedule to the new image atomically.
      task_definition_arn = aws_ecs_task_definition.this[each.key].arn
      launch_type         = "FARGATE"
      task_count          = 1
      propagate_tags      = "TASK_DEFINITION"

      network_configuration {
        subnets          = var.subnet_ids
        security_groups  = [aws_security_group.service[each.key].id]
        assign_public_ip = false
      }
    }

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dynamic "dead_letter_config" {
      for_each = var.scheduler_dead_letter_arn == null ? [] : [1]
      content {
        arn = var.scheduler_dead_letter_arn
      }
    }
  }
}
