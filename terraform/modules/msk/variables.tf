################################################################################
# Cluster
################################################################################

variable "create" {
  description = "Whether to create the cluster. Default: true."
  type        = bool
  default     = true
}

variable "name" {
  description = "Cluster name, e.g. `wattcast-prod`. Forces new resource (which prevent_destroy refuses: see README)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,64}$", var.name))
    error_message = "MSK cluster names are 1-64 of a-z, A-Z, 0-9 and -."
  }
}

variable "mode" {
  description = "`serverless` (MSK Serverless: no brokers to size, IAM auth only) or `provisioned` (brokers sized by broker_instance_type and broker_count). Changing it creates a new cluster. https://docs.aws.amazon.com/msk/latest/developerguide/serverless.html"
  type        = string
  default     = "serverless"

  validation {
    condition     = contains(["serverless", "provisioned"], var.mode)
    error_message = "The mode must be serverless or provisioned."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the cluster: at least two zones; for provisioned, broker_count must be a multiple of their number."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "MSK needs subnets in at least two availability zones."
  }
}

variable "vpc_id" {
  description = "VPC of the subnets; the cluster's security group is created in it."
  type        = string
}

variable "client_security_group_ids" {
  description = "Security groups of the clients (the wattcast tasks) allowed to connect on 9098 (IAM over TLS), by a name known at plan time (the service's)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Provisioned only
################################################################################

variable "kafka_version" {
  description = "Apache Kafka version of a provisioned cluster. https://docs.aws.amazon.com/msk/latest/developerguide/supported-kafka-versions.html"
  type        = string
  default     = "3.9.x"
}

variable "broker_instance_type" {
  description = "Broker instance type of a provisioned cluster, e.g. kafka.t3.small (testing) or kafka.m7g.large."
  type        = string
  default     = "kafka.m7g.large"
}

variable "broker_count" {
  description = "Number of brokers of a provisioned cluster: a multiple of the number of subnets; at least 3 for replication factor 3."
  type        = number
  default     = 3

  validation {
    condition     = var.broker_count >= 2
    error_message = "Use at least 2 brokers (3 for a replication factor of 3)."
  }
}

variable "broker_volume_size" {
  description = "EBS volume per broker, GiB, of a provisioned cluster. Storage autoscaling may raise it; Terraform then ignores the difference."
  type        = number
  default     = 100
}

variable "kms_key_arn" {
  description = "KMS key for data at rest of a provisioned cluster (serverless always encrypts with an AWS-owned key). null: the module creates one (with rotation, protected from destroy)."
  type        = string
  default     = null
}

variable "log_group_name" {
  description = "CloudWatch log group for the broker logs of a provisioned cluster (MSK Serverless has no broker logs)."
  type        = string
}

variable "server_properties" {
  description = "Broker configuration of a provisioned cluster, merged over wattcast's defaults (no auto-created topics; replication 3 with min.insync.replicas 2, so an acknowledged write survives a broker)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
