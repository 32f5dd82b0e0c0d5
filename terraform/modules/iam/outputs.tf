output "task_role_arns" {
  description = "Task role ARN of each service, by service name."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "execution_role_arns" {
  description = "Execution role ARN of each service, by service name."
  value       = { for k, r in aws_iam_role.execution : k => r.arn }
}

output "scheduler_role_arn" {
  description = "Role EventBridge Scheduler assumes to run the scheduled tasks, or null."
  value       = try(aws_iam_role.scheduler[0].arn, null)
}
