variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name: the configuration's aws.table_prefix, from which the code derives its table, queue and SSM parameter names."
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,40}$", var.name_prefix))
    error_message = "name_prefix: 1 to 40 letters, digits, '_', '.' or '-' (it prefixes DynamoDB tables, SQS queues and Lambda functions)."
  }
}

variable "functions" {
  type        = set(string)
  description = "The functions placed on AWS (the placement of the configuration's deploy section)."
  validation {
    condition     = length(setsubtract(var.functions, ["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade"])) == 0
    error_message = "functions: only tick_ingest, agent_scoring, committee_vote, order_placement, trade_logging and manual_trade exist."
  }
}

variable "package_dir" {
  type        = string
  description = "The folder holding one zip per function, <package_dir>/<function>.zip, as `make package` writes them (dist/aws)."
}

variable "cycle_minutes" {
  type        = number
  description = "Minutes between two cycles: the configuration's timeframe (a cycle per closed candle)."
  validation {
    condition     = var.cycle_minutes >= 1 && floor(var.cycle_minutes) == var.cycle_minutes
    error_message = "cycle_minutes: a whole number of minutes, at least 1."
  }
}

variable "memory_mb" {
  type        = number
  description = "Memory of each function in MB (deploy.memory_mb). The free tier is 400,000 GB-s a month: 256 MB leaves 1.56M seconds."
  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb: Lambda accepts 128 to 10240 MB."
  }
}

variable "timeout_s" {
  type        = number
  default     = 30
  description = "Each function's timeout. The stage queues' visibility timeout (180 s) is six times this, as AWS advises for an SQS event source."
  validation {
    condition     = var.timeout_s >= 1 && var.timeout_s <= 30
    error_message = "timeout_s: 1 to 30 s (the queues' 180 s visibility timeout must stay at least six times the timeout)."
  }
}

variable "runtime" {
  type        = string
  default     = "python3.12"
  description = "The Lambda Python runtime the packages were built for."
  validation {
    condition     = contains(["python3.11", "python3.12"], var.runtime)
    error_message = "runtime: python3.11 or python3.12 (Coinswarm needs Python 3.11 or newer)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "How long CloudWatch keeps the functions' logs (deploy.log_retention_days). Without it CloudWatch keeps them forever, and the free tier stores 5 GB."
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days: one of the retentions CloudWatch Logs offers (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "environment" {
  type        = map(string)
  default     = {}
  description = "COINSWARM_* settings every function runs with (`coinswarm deploy tfvars` writes them as settings_environment), plus the history store's; the queue URLs and the stores are added here."
}

variable "manual_trade_secret" {
  type        = string
  sensitive   = true
  default     = null
  description = "The manual trade endpoint's HMAC signing secret (several, comma-separated, during a rotation). Kept in an SSM SecureString; give it as TF_VAR_manual_trade_secret, never in a file. Null: the parameter is not created (nor the endpoint usable)."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource that takes them."
}

variable "secret_environment" {
  type        = map(string)
  sensitive   = true
  default     = {}
  description = "COINSWARM_* settings that are secrets (the Cosmos DB key, COINSWARM_AZURE__COSMOS_KEY): the code reads them from its environment, so they are set there, encrypted at rest by Lambda."
}
