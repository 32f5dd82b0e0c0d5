output "log_group_names" {
  description = "Log group name of each service, by service name."
  value       = { for k, g in aws_cloudwatch_log_group.service : k => g.name }
}

output "log_group_arns" {
  description = "Log group ARN of each service, by service name."
  value       = { for k, g in aws_cloudwatch_log_group.service : k => g.arn }
}

output "msk_log_group_name" {
  description = "Log group for MSK broker logs (provisioned clusters)."
  value       = try(aws_cloudwatch_log_group.msk[0].name, null)
}

output "kms_key_arn" {
  description = "KMS key of the log groups and the alarm topic (also usable for VPC flow logs)."
  value       = try(aws_kms_key.this[0].arn, null)
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = try(aws_sns_topic.alarms[0].arn, null)
}

output "metric_namespace" {
  description = "CloudWatch namespace of wattcast's own metrics."
  value       = local.namespace
}
