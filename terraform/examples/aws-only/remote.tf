# The remote control (terraform/remote.tf): off unless `coinswarm deploy tfvars` says it is configured.

variable "remote_control" {
  type = object({
    enabled      = optional(bool, false)
    late_periods = optional(number, 3)
    dead_letters = optional(bool, true)
  })
  default     = {}
  description = "Whether to deploy telegram_webhook and its alarms (docs/remote-control.md)."
}

variable "remote_secrets" {
  type = object({
    telegram_bot_token      = optional(string)
    telegram_webhook_secret = optional(string)
    status_token            = optional(string)
  })
  sensitive   = true
  default     = {}
  description = "The remote control's secrets, as TF_VAR_remote_secrets (JSON), never in a file."
}
