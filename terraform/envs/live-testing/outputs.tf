output "ecr_repository_url" {
  description = "Where CI pushes the wattcast image."
  value       = module.wattcast.ecr_repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster of the services."
  value       = module.wattcast.ecs_cluster_name
}

output "service_names" {
  description = "ECS services (long-running)."
  value       = module.wattcast.service_names
}

output "task_definition_arns" {
  description = "Task definition of each service and task."
  value       = module.wattcast.task_definition_arns
}

output "private_subnet_ids" {
  description = "Private subnets, for `aws ecs run-task`."
  value       = module.wattcast.private_subnet_ids
}

output "security_group_ids" {
  description = "Security group of each service and task, for `aws ecs run-task`."
  value       = module.wattcast.security_group_ids
}

output "kafka_bootstrap_brokers" {
  description = "WATTCAST_KAFKA_BROKERS inside the VPC."
  value       = module.wattcast.kafka_bootstrap_brokers
}

output "lake_url" {
  description = "WATTCAST_LAKE."
  value       = module.wattcast.lake_url
}

output "registry_url" {
  description = "WATTCAST_REGISTRY."
  value       = module.wattcast.registry_url
}

output "athena_workgroup" {
  description = "WATTCAST_ATHENA_WORKGROUP."
  value       = module.wattcast.athena_workgroup
}

output "athena_database" {
  description = "WATTCAST_ATHENA_DATABASE."
  value       = module.wattcast.athena_database
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.wattcast.alarm_topic_arn
}
