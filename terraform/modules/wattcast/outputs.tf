output "vpc_id" {
  description = "ID of the environment's VPC."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets of the tasks (for `aws ecs run-task`)."
  value       = module.network.private_subnet_ids
}

output "ecr_repository_url" {
  description = "Where CI pushes the wattcast image."
  value       = module.ecr.repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster of the services."
  value       = module.services.cluster_name
}

output "service_names" {
  description = "ECS services (long-running)."
  value       = module.services.service_names
}

output "task_definition_arns" {
  description = "Task definition of each service, scheduled and on-demand task."
  value       = module.services.task_definition_arns
}

output "security_group_ids" {
  description = "Security group of each service and task (for `aws ecs run-task`)."
  value       = module.services.security_group_ids
}

output "kafka_bootstrap_brokers" {
  description = "WATTCAST_KAFKA_BROKERS for clients inside the VPC (IAM over TLS, port 9098)."
  value       = module.msk.bootstrap_brokers
}

output "msk_cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = module.msk.cluster_arn
}

output "lake_url" {
  description = "WATTCAST_LAKE: the Parquet lake."
  value       = module.lake.lake_url
}

output "registry_url" {
  description = "WATTCAST_REGISTRY: the model registry."
  value       = module.lake.registry_url
}

output "lake_bucket" {
  description = "Name of the lake bucket."
  value       = module.lake.bucket_id
}

output "athena_workgroup" {
  description = "Athena workgroup for `wattcast query --athena` (WATTCAST_ATHENA_WORKGROUP)."
  value       = module.catalog.workgroup_name
}

output "athena_database" {
  description = "Glue database of the lake tables (WATTCAST_ATHENA_DATABASE)."
  value       = module.catalog.database_name
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.observability.alarm_topic_arn
}

output "log_group_names" {
  description = "Log group of each service."
  value       = module.observability.log_group_names
}
