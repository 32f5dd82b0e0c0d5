# tflint with the bundled terraform ruleset only: the AWS ruleset plugin
# cannot be downloaded here (plugins come from GitHub releases), so
# `tflint --init` is never needed. The `all` preset turns on every core rule:
# documented and typed variables and outputs, standard module structure,
# pinned module sources, naming convention, unused declarations, deprecated
# syntax, required_version and required_providers.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
