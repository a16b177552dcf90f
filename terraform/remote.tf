# The owner's remote control (docs/remote-control.md): the telegram_webhook function beside manual_trade,
# its secrets, and on AWS the alarms that tell the owner (the heartbeat, the dead letters). Each module
# creates it only where manual_trade runs, and only when enabled (`coinswarm deploy tfvars` sets
# remote_control.enabled when remote.telegram_webhook_secret or remote.status_token is configured).

variable "remote_control" {
  type = object({
    enabled      = optional(bool, false)
    late_periods = optional(number, 3)
    dead_letters = optional(bool, true)
  })
  default     = {}
  description = "Whether to deploy telegram_webhook (Telegram's commands, the status page and API); after how many cycle periods without a cycle the heartbeat alarm fires; whether each dead-letter queue gets an alarm."
}

variable "remote_secrets" {
  type = object({
    telegram_bot_token      = optional(string)
    telegram_webhook_secret = optional(string)
    status_token            = optional(string)
  })
  sensitive   = true
  default     = {}
  description = "notify.telegram_bot_token, remote.telegram_webhook_secret, remote.status_token: give them as TF_VAR_remote_secrets (JSON), never in a file."
}

locals {
  remote_cloud = lookup(var.placement, "manual_trade", "aws")
}

output "telegram_webhook_url" {
  description = "The telegram_webhook function's URL: remote.status_url (the status page) and, with /telegram, what `coinswarm telegram setup` registers. Null when the remote control is off."
  value       = local.remote_cloud == "aws" ? try(module.aws[0].telegram_webhook_url, null) : try(module.gcp[0].telegram_webhook_url, null)
}
