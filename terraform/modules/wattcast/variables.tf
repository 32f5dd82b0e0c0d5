################################################################################
# Environment
################################################################################

variable "name" {
  description = "Environment name, e.g. `wattcast-prod` or `wattcast-live-testing`: the prefix of every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "The name must start with a letter and be 3-31 of a-z, 0-9 and - (it prefixes IAM role names, which are limited to 64 characters)."
  }
}

variable "tags" {
  description = "Tags added to every resource (the provider's default_tags add more)."
  type        = map(string)
  default     = {}
}

################################################################################
# Network
################################################################################

variable "vpc_cidr" {
  description = "CIDR block of the environment's own VPC."
  type        = string
}

variable "azs" {
  description = "Availability zones of the VPC (2 or 3)."
  type        = list(string)
}

variable "enable_nat_gateway" {
  description = "Whether the VPC has a NAT gateway for the producers' calls to public APIs."
  type        = bool
  default     = true
}

################################################################################
# Kafka
################################################################################

variable "msk_mode" {
  description = "`serverless` or `provisioned` MSK (see the msk module)."
  type        = string
  default     = "serverless"
}

variable "msk_provisioned" {
  description = "Settings of a provisioned cluster (ignored for serverless)."
  type = object({
    kafka_version        = optional(string, "3.9.x")
    broker_instance_type = optional(string, "kafka.m7g.large")
    broker_count         = optional(number, 3)
    broker_volume_size   = optional(number, 100)
  })
  default  = {}
  nullable = false
}

variable "topic_prefix" {
  description = "Prefix of every topic, consumer group and transactional id (WATTCAST_TOPIC_PREFIX)."
  type        = string
  default     = "wattcast."

  validation {
    condition     = can(regex("^[a-zA-Z0-9._-]{1,40}$", var.topic_prefix))
    error_message = "Kafka names are a-z A-Z 0-9 . _ -."
  }
}

variable "partitions" {
  description = "Partitions of the region-keyed topics when wattcast creates them (WATTCAST_PARTITIONS): the most tasks that can share a consumer group's work."
  type        = number
  default     = 6
}

################################################################################
# Lake and catalog
################################################################################

variable "lake_bucket_name" {
  description = "Globally unique name of the lake bucket."
  type        = string
}

variable "regions" {
  description = "Regions (partition values) in the lake, for Athena's enum projection; also the regions the scheduled trainer trains (`wattcast train --regions`), except the smoke test's `SMOKE`. Empty: the trainer trains every region in the lake."
  type        = list(string)
  default     = []
}

variable "date_range_start" {
  description = "First `date=` partition Athena's projection offers, YYYY-MM-DD. Lake rows of earlier dates are invisible to Athena (wattcast reads them directly); set an earlier date, back to 1990 which the schemas accept, to query older imports."
  type        = string
  default     = "2015-01-01"

  validation {
    condition     = can(regex("^(199[0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", var.date_range_start))
    error_message = "Give a date from 1990 on as YYYY-MM-DD."
  }
}

variable "region_projection" {
  description = "`enum` (var.regions) or `injected` (every query filters on region)."
  type        = string
  default     = "enum"
}

################################################################################
# Services
################################################################################

variable "image_tag" {
  description = "Tag of the wattcast image in the environment's ECR repository: the git commit SHA that CI built and tested."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,128}$", var.image_tag))
    error_message = "Give an image tag (the commit SHA)."
  }
}

variable "service_overrides" {
  description = "Changes to the default services by name (command, cpu, memory, desired_count, schedule, environment); see locals in services.tf for the defaults."
  type = map(object({
    command       = optional(list(string))
    cpu           = optional(number)
    memory        = optional(number)
    desired_count = optional(number)
    schedule      = optional(string)
    environment   = optional(map(string))
  }))
  default  = {}
  nullable = false
}

variable "octopus_regions" {
  description = "Octopus Agile regions (A to P) the Octopus producer polls (`wattcast produce --source octopus --regions`)."
  type        = list(string)
  default     = ["A"]

  validation {
    condition     = length(var.octopus_regions) > 0 && alltrue([for r in var.octopus_regions : can(regex("^[A-P]$", r))])
    error_message = "Octopus regions are single letters A to P."
  }
}

variable "weather_locations" {
  description = "Open-Meteo locations the weather producer polls, each REGION:NAME:LAT:LON (`wattcast produce --source openmeteo --locations`)."
  type        = list(string)
  default     = ["GB-A:london:51.51:-0.13"]

  validation {
    condition     = length(var.weather_locations) > 0 && alltrue([for l in var.weather_locations : can(regex("^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+:-?[0-9.]+:-?[0-9.]+$", l))])
    error_message = "Give each location as REGION:NAME:LAT:LON, e.g. GB-A:london:51.51:-0.13."
  }
}

variable "trainer_schedule" {
  description = "When the trainer runs: an EventBridge Scheduler expression in var.trainer_schedule_timezone. Default: daily at 03:00."
  type        = string
  default     = "cron(0 3 * * ? *)"
}

variable "trainer_schedule_timezone" {
  description = "Time zone of the trainer schedule (IANA name)."
  type        = string
  default     = "UTC"
}

variable "enable_smoke_task" {
  description = "Whether to define the on-demand `smoke` task that CI runs inside the VPC after a deploy (live-testing)."
  type        = bool
  default     = false
}

variable "ci_role_arns" {
  description = "IAM roles of the CI/CD pipeline, allowed to push images to the ECR repository."
  type        = list(string)
  default     = []
}

################################################################################
# Observability
################################################################################

variable "log_retention_days" {
  description = "Days to keep service logs."
  type        = number
  default     = 90
}

variable "alarm_emails" {
  description = "E-mail addresses notified by the alarms."
  type        = list(string)
  default     = []
}

variable "max_source_silence_hours" {
  description = <<-EOT
    Hours a producer may go without publishing (no `source: published` log
    line) before its freshness alarm fires. prices: Octopus publishes the
    next day's Agile prices once a day, around 16:00 UK time, and the
    producer polls every 10 minutes until they are out, so a healthy
    producer publishes about every 24 hours (default 30, room for a late
    publication). weather: the forecast is polled hourly and Open-Meteo's
    models update every 1 to 6 hours, observations every 6 hours (default 12).
  EOT
  type = object({
    prices  = optional(number, 30)
    weather = optional(number, 12)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for h in values(var.max_source_silence_hours) : h == floor(h) && h >= 1 && h <= 168])
    error_message = "Give whole hours from 1 to 168 (CloudWatch evaluates an alarm over at most 7 days)."
  }
}

variable "max_consumer_lag" {
  description = "Records a consumer group may fall behind on a topic for 15 minutes before its alarm fires."
  type        = number
  default     = 10000
}
