output "database_name" {
  description = "Glue database of the lake tables (WATTCAST_ATHENA_DATABASE)."
  value       = try(aws_glue_catalog_database.this[0].name, null)
}

output "database_arn" {
  description = "ARN of the Glue database."
  value       = try(aws_glue_catalog_database.this[0].arn, null)
}

output "table_names" {
  description = "Names of the lake tables in the Glue database."
  value       = sort([for t in aws_glue_catalog_table.this : t.name])
}

output "table_arns" {
  description = "ARNs of the Glue tables, by table name."
  value       = { for k, t in aws_glue_catalog_table.this : k => t.arn }
}

output "workgroup_name" {
  description = "Athena workgroup (WATTCAST_ATHENA_WORKGROUP)."
  value       = try(aws_athena_workgroup.this[0].name, null)
}

output "workgroup_arn" {
  description = "ARN of the Athena workgroup."
  value       = try(aws_athena_workgroup.this[0].arn, null)
}

output "named_query_ids" {
  description = "IDs of the named queries, by name."
  value       = { for k, q in aws_athena_named_query.this : k => q.id }
}
