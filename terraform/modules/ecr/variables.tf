variable "create" {
  description = "Whether to create the repository. Default: true."
  type        = bool
  default     = true
}

variable "name" {
  description = "Repository name, e.g. `wattcast`. Forces new resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name))
    error_message = "ECR repository names are lower-case letters, digits and . _ - /."
  }
}

variable "keep_tagged_images" {
  description = "How many tagged images (releases, commit SHAs) to keep; older ones expire. Running tasks keep their image until replaced."
  type        = number
  default     = 50
}

variable "untagged_expiry_days" {
  description = "Days before an untagged image (a superseded build) expires."
  type        = number
  default     = 7
}

variable "push_principal_arns" {
  description = "IAM roles allowed to push images (the CI deploy role). Pulls are allowed to the account through IAM (the task execution roles)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
