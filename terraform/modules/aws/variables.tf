variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name: the configuration's aws.table_prefix, from which the code derives its table, queue and SSM parameter names."
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,40}$", var.name_prefix))
    error_message = "name_prefix: 1 to 40 letters, digits, '_', '.' or '-' (it prefixes DynamoDB tables, SQS queues and Lambda functions)."
  }
}

variable "placement" {
  type        = map(string)
  description = "deploy.placement: the cloud (aws or gcp) of each of the six functions; those on aws are deployed here, with the push receiver when a hop crosses clouds."
  validation {
    condition     = alltrue([for cloud in values(var.placement) : contains(["aws", "gcp"], cloud)]) && length(setsubtract(["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade"], keys(var.placement))) == 0
    error_message = "placement: name the cloud (\"aws\" or \"gcp\") of every function: tick_ingest, agent_scoring, committee_vote, order_placement, trade_logging, manual_trade."
  }
}

variable "function_names" {
  type        = map(string)
  description = "The deployed name of each function (coinswarm.config.deploy.deployed_name, from `coinswarm deploy tfvars`): what a function invoking the next one calls, and the log group's name."
  validation {
    condition     = length(setsubtract(["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade", "push_receiver"], keys(var.function_names))) == 0 && alltrue([for n in values(var.function_names) : can(regex("^[A-Za-z0-9-]{1,64}$", n))])
    error_message = "function_names: a name (letters, digits, '-'; at most 64) for each of tick_ingest, agent_scoring, committee_vote, order_placement, trade_logging, manual_trade and push_receiver; run `coinswarm deploy tfvars`."
  }
}

variable "chain" {
  type        = string
  description = "deploy.chain: invoke (each stage invokes the next asynchronously; nothing polls), queues (SQS event sources, which poll even when idle) or workflow (a Step Functions execution per cycle)."
  validation {
    condition     = contains(["invoke", "queues", "workflow"], var.chain)
    error_message = "chain: one of invoke, queues or workflow."
  }
}

variable "push_urls" {
  type        = map(string)
  default     = {}
  description = "The other cloud's push receiver URL for each topic produced here and consumed there (push.urls); needed only when deploy.placement splits the stages across clouds."
}

variable "workflow_definition" {
  type        = string
  default     = null
  description = "The Step Functions definition template of the cycle (workflows/aws/cycle.asl.json), used when chain is workflow; null: the one in this repository."
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

variable "secrets" {
  type = object({
    cosmos_key          = optional(string)
    manual_trade_secret = optional(string)
    push_secret         = optional(string)
    exchange_api_key    = optional(string)
    exchange_api_secret = optional(string)
  })
  sensitive   = true
  default     = {}
  description = "The secrets, each kept in an SSM SecureString /<name_prefix>/<name with - for _> that only the functions using it may read; none is ever set in a function's environment. Give them as TF_VAR_* variables, never in a file. A secret left null is not created."
}

variable "cosmos_key_given" {
  type        = bool
  default     = false
  description = "Whether secrets.cosmos_key is given (the history on Cosmos DB). Separate because a new account's key is known only after apply, and the parameter must be planned before."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource that takes them."
}
