locals {
  cluster_arn = try(aws_msk_serverless_cluster.this[0].arn, aws_msk_cluster.this[0].arn, null)
  # arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>: IAM resources for
  # topics and groups replace "cluster" with "topic", "group", ...
  arn_parts    = local.cluster_arn == null ? null : regex("^(arn:[^:]+:kafka:[^:]+:[0-9]+):cluster/([^/]+)/(.+)$", local.cluster_arn)
  cluster_name = try(local.arn_parts[1], null)
  cluster_uuid = try(local.arn_parts[2], null)
}

output "cluster_arn" {
  description = "ARN of the cluster."
  value       = local.cluster_arn
}

output "cluster_name" {
  description = "Name of the cluster (the `Cluster Name` dimension of its CloudWatch metrics)."
  value       = local.cluster_name
}

output "cluster_uuid" {
  description = "UUID of the cluster, part of its topic and group ARNs."
  value       = local.cluster_uuid
}

output "iam_resource_prefix" {
  description = "Map of IAM ARN prefixes for the cluster's resources: `topic`, `group` and `transactional_id` (append a name or a name prefix and `*`)."
  value = local.arn_parts == null ? null : {
    topic            = "${local.arn_parts[0]}:topic/${local.arn_parts[1]}/${local.arn_parts[2]}/"
    group            = "${local.arn_parts[0]}:group/${local.arn_parts[1]}/${local.arn_parts[2]}/"
    transactional_id = "${local.arn_parts[0]}:transactional-id/${local.arn_parts[1]}/${local.arn_parts[2]}/"
  }
}

output "bootstrap_brokers" {
  description = "Bootstrap brokers for IAM over TLS (port 9098), comma separated: WATTCAST_KAFKA_BROKERS."
  value       = try(aws_msk_serverless_cluster.this[0].bootstrap_brokers_sasl_iam, aws_msk_cluster.this[0].bootstrap_brokers_sasl_iam, null)
}

output "security_group_id" {
  description = "Security group of the brokers."
  value       = try(aws_security_group.this[0].id, null)
}
