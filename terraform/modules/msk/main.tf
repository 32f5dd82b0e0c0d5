locals {
  serverless  = var.create && var.mode == "serverless"
  provisioned = var.create && var.mode == "provisioned"

  server_properties = merge({
    "auto.create.topics.enable"      = "false"
    "default.replication.factor"     = "3"
    "min.insync.replicas"            = "2"
    "unclean.leader.election.enable" = "false"
    # The feature processor and scorer commit offsets in transactions.
    "transaction.state.log.replication.factor" = "3"
    "transaction.state.log.min.isr"            = "2"
  }, var.server_properties)
}

################################################################################
# Security group: IAM-authenticated TLS (9098) from the clients only
################################################################################

resource "aws_security_group" "this" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-msk-"
  description = "MSK brokers: Kafka over TLS with IAM auth from wattcast tasks"
  vpc_id      = var.vpc_id

  tags = merge({ Name = "${var.name}-msk" }, var.tags)

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  # Keyed by service name, known at plan time (the group ids are not
  # until the groups exist, which for_each cannot take).
  for_each = var.create ? var.client_security_group_ids : {}

  security_group_id            = aws_security_group.this[0].id
  description                  = "Kafka IAM/TLS from a wattcast service"
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
  referenced_security_group_id = each.value
}

################################################################################
# MSK Serverless
################################################################################

resource "aws_msk_serverless_cluster" "this" {
  count = local.serverless ? 1 : 0

  cluster_name = var.name

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.this[0].id]
  }

  client_authentication {
    sasl {
      iam {
        enabled = true
      }
    }
  }

  tags = var.tags

  # The topics and their data live in the cluster: a plan that would
  # replace it fails instead (see terraform/README.md to retire one).
  lifecycle {
    prevent_destroy = true
  }
}

################################################################################
# MSK provisioned
################################################################################

# A customer-managed key for the brokers' data at rest, unless one is given
# (MSK Serverless always encrypts with a key AWS owns).
resource "aws_kms_key" "this" {
  count = local.provisioned && var.kms_key_arn == null ? 1 : 0

  description             = "wattcast MSK ${var.name}: broker data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  tags = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_msk_configuration" "this" {
  count = local.provisioned ? 1 : 0

  name           = "${var.name}-config"
  kafka_versions = [var.kafka_version]
  server_properties = join("\n", [
    for k in sort(keys(local.server_properties)) : "${k}=${local.server_properties[k]}"
  ])

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_msk_cluster" "this" {
  count = local.provisioned ? 1 : 0

  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.this[0].id]

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_size
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this[0].arn
    revision = aws_msk_configuration.this[0].latest_revision
  }

  client_authentication {
    unauthenticated = false
    sasl {
      iam = true
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = coalesce(var.kms_key_arn, try(aws_kms_key.this[0].arn, null))
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = var.log_group_name
      }
    }
  }

  tags = var.tags

  lifecycle {
    prevent_destroy = true
    # Storage autoscaling (or an operator) grows volumes outside Terraform;
    # shrinking is impossible, so never try to revert it.
    ignore_changes = [broker_node_group_info[0].storage_info[0].ebs_storage_info[0].volume_size]
  }
}
