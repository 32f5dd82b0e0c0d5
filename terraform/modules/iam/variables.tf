################################################################################
# Services
################################################################################

variable "create" {
  description = "Whether to create the roles. Default: true."
  type        = bool
  default     = true
}

variable "name" {
  description = "Environment name, e.g. `wattcast-prod`: the prefix of every role name."
  type        = string
}

variable "services" {
  description = <<-EOT
    What each service may do, by service name (e.g. processor). Each gets a
    task role (what the code may do) and an execution role (what ECS needs to
    start it: pull the image, write its logs).
    kafka: full topic names it reads, writes and may create; topic, consumer
    group and transactional id prefixes it owns (every name starting with one).
    s3: key prefixes of the lake bucket it reads and writes, and the
    (narrower) prefixes under which it may also delete objects.
    athena: whether it may run queries in the workgroup (reads the catalog and
    the lake, writes query results).
  EOT
  type = map(object({
    kafka = optional(object({
      read_topics            = optional(list(string), [])
      write_topics           = optional(list(string), [])
      create_topics          = optional(list(string), [])
      topic_prefixes         = optional(list(string), [])
      group_prefixes         = optional(list(string), [])
      transactional_prefixes = optional(list(string), [])
    }), {})
    s3 = optional(object({
      read_prefixes   = optional(list(string), [])
      write_prefixes  = optional(list(string), [])
      delete_prefixes = optional(list(string), [])
    }), {})
    athena = optional(bool, false)
  }))
  nullable = false
}

################################################################################
# Resources the roles are scoped to
################################################################################

variable "msk_cluster_arn" {
  description = "ARN of the MSK cluster."
  type        = string
}

variable "msk_iam_resource_prefix" {
  description = "The msk module's `iam_resource_prefix`: ARN prefixes of the cluster's topics, groups and transactional ids."
  type = object({
    topic            = string
    group            = string
    transactional_id = string
  })
}

variable "lake_bucket_arn" {
  description = "ARN of the lake bucket."
  type        = string
}

variable "lake_kms_key_arn" {
  description = "ARN of the lake's KMS key."
  type        = string
}

variable "athena_results_prefix" {
  description = "Key prefix of the Athena results in the lake bucket (written by services with athena = true)."
  type        = string
  default     = "athena-results"
}

variable "athena_workgroup_arn" {
  description = "ARN of the Athena workgroup that services with athena = true may use."
  type        = string
  default     = null
}

variable "glue_database_name" {
  description = "Glue database of the lake tables (read by services with athena = true)."
  type        = string
  default     = null
}

variable "ecr_repository_arn" {
  description = "ARN of the image repository the execution roles pull from."
  type        = string
}

variable "log_group_arns" {
  description = "CloudWatch log group ARN of each service, by service name: its execution role writes there."
  type        = map(string)
  nullable    = false
}

################################################################################
# EventBridge Scheduler
################################################################################

variable "scheduled_services" {
  description = "Services started on a schedule by EventBridge Scheduler (the trainer): the scheduler role may run their task definitions (any revision) in the ECS cluster and pass their roles."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "ecs_cluster_name" {
  description = "Name of the ECS cluster the scheduled tasks run in."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
