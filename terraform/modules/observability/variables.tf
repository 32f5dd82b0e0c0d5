################################################################################
# Logs
################################################################################

variable "create" {
  description = "Whether to create the logs, metrics and alarms. Default: true."
  type        = bool
  default     = true
}

variable "name" {
  description = "Environment name, e.g. `wattcast-prod`: log groups are /wattcast/<name>/<service>, the metric namespace wattcast/<name>."
  type        = string
}

variable "services" {
  description = "Service names that get a log group (every ECS service and scheduled task)."
  type        = list(string)
  nullable    = false
}

variable "log_retention_days" {
  description = "Days to keep service logs. One of CloudWatch's allowed values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  type        = number
  default     = 90
}

################################################################################
# Alarms
################################################################################

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "msk_cluster_name" {
  description = "MSK cluster name: the `Cluster Name` dimension of the consumer lag metrics."
  type        = string
}

variable "consumer_lag" {
  description = "Consumer lag alarms, by a short name: the consumer group, the topic it reads, and the largest tolerated lag (MaxOffsetLag, records) over `minutes` consecutive minutes. A processor that falls behind delays every forecast."
  type = map(object({
    group   = string
    topic   = string
    max_lag = optional(number, 10000)
    minutes = optional(number, 15)
  }))
  default  = {}
  nullable = false
}

variable "freshness" {
  description = "Source freshness alarms, by a short name: the producer service whose log lines `source: published` are counted, and the hours (1 to 168, CloudWatch's 7-day evaluation limit) it may go without one before the alarm fires. Entries whose service is not in var.services are skipped."
  type = map(object({
    service           = string
    max_silence_hours = number
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for f in values(var.freshness) : f.max_silence_hours == floor(f.max_silence_hours) && f.max_silence_hours >= 1 && f.max_silence_hours <= 168])
    error_message = "max_silence_hours must be a whole number of hours from 1 to 168."
  }
}

variable "scorer_service" {
  description = "Service whose logs carry the `forecast error` lines (see docs/aws.md)."
  type        = string
  default     = "scorer"
}

variable "max_champion_rmae" {
  description = "Alarm when the champion's rMAE (its MAE over the weekly naive forecast's MAE, from the scorer's error lines) exceeds this over the last day: above 1 the champion is worse than repeating last week."
  type        = number
  default     = 1.0
}

variable "dead_letter_threshold" {
  description = "Alarm when more than this many records are dead-lettered in 15 minutes (summed over every service)."
  type        = number
  default     = 0
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
