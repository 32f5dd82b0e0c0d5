variable "aws_region" {
  description = "AWS region of the state bucket and lock table."
  type        = string
  default     = "eu-west-1"
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the CI roles, e.g. `wattcast/wattcast`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "Give the repository as owner/name."
  }
}

variable "create_github_oidc_provider" {
  description = "Whether to create the account's GitHub OIDC provider (token.actions.githubusercontent.com); false if the account already has one."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
