################################################################################
# Network
################################################################################

variable "create" {
  description = "Whether to create the network. Default: true."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the VPC and prefix of its resources, e.g. `wattcast-prod`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,40}$", var.name))
    error_message = "The name must be 1-40 of a-z, 0-9 and -."
  }
}

variable "cidr" {
  description = "IPv4 CIDR block of the VPC (a /16 to /24). Each environment gets its own VPC; pick blocks that do not overlap if they will ever be peered. Forces new resource."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) >= 16 && tonumber(split("/", var.cidr)[1]) <= 24
    error_message = "The CIDR must be a valid IPv4 block between /16 and /24."
  }
}

variable "azs" {
  description = "Availability zones for the subnets, e.g. [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]. MSK needs subnets in at least two (serverless) or as many zones as brokers per zone (provisioned: 2 or 3)."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 6
    error_message = "Give 2 to 6 availability zones."
  }
}

variable "subnet_newbits" {
  description = "Bits added to the VPC prefix for each subnet: with a /16 VPC, 4 gives /20 subnets (4091 addresses each). Private subnets take the first len(azs) blocks, public ones the next len(azs)."
  type        = number
  default     = 4
}

################################################################################
# Internet egress
################################################################################

variable "enable_nat_gateway" {
  description = "Whether to create public subnets and one NAT gateway, so that the producers can reach the public price and weather APIs (Octopus Energy, Open-Meteo). Without it, the private subnets reach only the VPC endpoints. Default: true."
  type        = bool
  default     = true
}

################################################################################
# VPC endpoints
################################################################################

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints (private DNS on), by service suffix: ECR (API and image layers), CloudWatch Logs and STS by default. S3 always gets a gateway endpoint. Add e.g. \"athena\" or \"glue\" when tasks query the catalog from the VPC."
  type        = set(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "sts"]
  nullable    = false
}

################################################################################
# Flow logs
################################################################################

variable "flow_log_retention_days" {
  description = "Days to keep VPC flow logs in CloudWatch Logs; 0 disables flow logs."
  type        = number
  default     = 90
}

variable "flow_log_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the flow log group (its policy must allow logs.<region>.amazonaws.com). Required when flow logs are on."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
