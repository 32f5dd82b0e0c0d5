################################################################################
# Cluster and image
################################################################################

variable "create" {
  description = "Whether to create the ECS cluster, services and schedule. Default: true."
  type        = bool
  default     = true
}

variable "name" {
  description = "Environment name, e.g. `wattcast-prod`: the ECS cluster, and the prefix of task definition families and services."
  type        = string
}

variable "image" {
  description = "The wattcast image every service runs: <repository url>:<git sha>. Every service is a subcommand of the same binary."
  type        = string

  validation {
    condition     = can(regex(":[A-Za-z0-9_.-]+$|@sha256:[0-9a-f]{64}$", var.image))
    error_message = "Pin the image by tag or digest (repo:tag or repo@sha256:...), never latest by omission."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the Fargate tasks, X86_64 or ARM64; the image must be built for it."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "Use X86_64 or ARM64."
  }
}

################################################################################
# Network
################################################################################

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the tasks run in (no public IPs)."
  type        = list(string)
}

variable "msk_security_group_id" {
  description = "Security group of the MSK brokers: tasks get egress to it on 9098."
  type        = string
}

variable "endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints: tasks get egress to it on 443."
  type        = string
}

variable "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint: tasks get egress to it on 443."
  type        = string
}

################################################################################
# Services
################################################################################

variable "services" {
  description = <<-EOT
    Long-running services (ECS Fargate services) and scheduled tasks, by name.
    command: the wattcast subcommand and its flags, e.g. ["process"].
    schedule: an EventBridge Scheduler expression, e.g. "cron(0 3 * * ? *)";
    set for a scheduled task (the trainer), null for a service.
    on_demand: only a task definition, run by hand or by CI (the live
    smoke test), neither a service nor a schedule.
    internet: egress to the internet on 443 through the NAT gateway (the
    producers call the public price and weather APIs).
    desired_count: tasks of a service (Kafka consumer groups spread the
    partitions over them).
    environment: extra WATTCAST_* variables.
  EOT
  type = map(object({
    command           = list(string)
    cpu               = optional(number, 512)
    memory            = optional(number, 1024)
    desired_count     = optional(number, 1)
    schedule          = optional(string)
    schedule_timezone = optional(string, "UTC")
    on_demand         = optional(bool, false)
    internet          = optional(bool, false)
    environment       = optional(map(string), {})
    stop_timeout      = optional(number, 120)
  }))
  nullable = false

  validation {
    condition     = alltrue([for s in values(var.services) : s.desired_count >= 0 && s.stop_timeout <= 120])
    error_message = "desired_count must be >= 0 and stop_timeout at most 120 seconds (Fargate's limit)."
  }
}

variable "environment" {
  description = "WATTCAST_* variables common to every service: brokers, TLS, SASL, lake, registry, topic prefix, region."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "task_role_arns" {
  description = "Task role ARN of each service (iam module)."
  type        = map(string)
}

variable "execution_role_arns" {
  description = "Execution role ARN of each service (iam module)."
  type        = map(string)
}

variable "scheduler_role_arn" {
  description = "Role EventBridge Scheduler assumes to run the scheduled tasks (iam module)."
  type        = string
  default     = null
}

variable "log_group_names" {
  description = "Log group name of each service (observability module)."
  type        = map(string)
}

variable "scheduler_dead_letter_arn" {
  description = "SQS queue ARN for schedule invocations that failed all retries; null: none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
