variable "aws_region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-1"
}

variable "allowed_account_ids" {
  description = "AWS accounts this environment may be applied to (a guard against applying it with the wrong credentials); empty allows any."
  type        = list(string)
  default     = []
}

variable "image_tag" {
  description = "Tag of the wattcast image to run: the commit SHA CI built and pushed."
  type        = string
}

variable "ci_role_arns" {
  description = "CI roles allowed to push images (from terraform/bootstrap)."
  type        = list(string)
  default     = []
}

variable "alarm_emails" {
  description = "E-mail addresses notified by the alarms."
  type        = list(string)
  default     = []
}

variable "regions" {
  description = "Regions (partition values) the environment ingests, for Athena's enum projection."
  type        = list(string)
  default     = ["GB-A", "FI"]
}
