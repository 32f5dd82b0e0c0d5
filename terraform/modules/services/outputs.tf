output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = try(aws_ecs_cluster.this[0].name, null)
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = try(aws_ecs_cluster.this[0].arn, null)
}

output "security_group_ids" {
  description = "Security group of each service, by service name."
  value       = { for k, sg in aws_security_group.service : k => sg.id }
}

output "task_definition_arns" {
  description = "Task definition ARN (with revision) of each service and scheduled task, by name."
  value       = { for k, td in aws_ecs_task_definition.this : k => td.arn }
}

output "service_names" {
  description = "ECS service names of the long-running services."
  value       = [for s in aws_ecs_service.this : s.name]
}

output "schedule_arns" {
  description = "EventBridge Scheduler schedule ARN of each scheduled task, by name."
  value       = { for k, s in aws_scheduler_schedule.this : k => s.arn }
}
