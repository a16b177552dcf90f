# -- from the configuration (`coinswarm deploy tfvars` writes these into coinswarm.auto.tfvars.json) ------

variable "name_prefix" {
  type        = string
  default     = "coinswarm"
  description = "aws.table_prefix: the prefix of every resource name (tables, queues, functions, accounts)."
}

variable "function_names" {
  type        = map(string)
  description = "The deployed name of each function, push_receiver included (coinswarm.config.deploy.deployed_name: <prefix>-tick-ingest, ...)."
}

variable "gcp_topic_prefix" {
  type        = string
  default     = "coinswarm"
  description = "gcp.collection_prefix: the prefix of the Pub/Sub topics and Firestore collections."
}

variable "aws_region" {
  type        = string
  default     = "us-east-1"
  description = "aws.region: where the AWS part is created."
}

variable "gcp_project" {
  type        = string
  default     = "coinswarm"
  description = "gcp.project: the Google Cloud project."
}

variable "cosmos_database" {
  type        = string
  default     = "coinswarm"
  description = "azure.cosmos_database: the Cosmos DB database of the history."
}

variable "symbols" {
  type        = list(string)
  description = "The symbols traded (informative here: the functions read them from settings_environment)."
}

variable "timeframe" {
  type        = string
  description = "The candle size and cycle cadence, e.g. 1m (cycle_minutes is what the schedules use)."
}

variable "cycle_minutes" {
  type        = number
  description = "Minutes between two cycles: the timeframe in minutes."
  validation {
    condition     = contains([1, 3, 5, 15, 30, 60, 120, 240, 360, 480, 720, 1440], var.cycle_minutes)
    error_message = "cycle_minutes: one of the timeframes' 1, 3, 5, 15, 30, 60, 120, 240, 360, 480, 720 or 1440 (a deployed schedule runs at least daily: 3d and 1w run locally only)."
  }
}

variable "placement" {
  type        = map(string)
  description = "deploy.placement: the cloud (aws or gcp) of each of the six functions."
  validation {
    condition     = alltrue([for cloud in values(var.placement) : contains(["aws", "gcp"], cloud)]) && length(setsubtract(["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade"], keys(var.placement))) == 0
    error_message = "placement: name the cloud (\"aws\" or \"gcp\") of every function: tick_ingest, agent_scoring, committee_vote, order_placement, trade_logging, manual_trade."
  }
}

variable "chain" {
  type        = string
  description = "deploy.chain: invoke (AWS: each stage invokes the next asynchronously, nothing polls), queues (SQS event sources, which poll even when idle) or workflow (one Step Functions / Workflows execution per cycle); on Google Cloud invoke and queues are both Pub/Sub push."
  validation {
    condition     = contains(["invoke", "queues", "workflow"], var.chain)
    error_message = "chain: one of invoke, queues or workflow."
  }
}

variable "memory_mb" {
  type        = number
  description = "deploy.memory_mb: memory of each function in MB."
}

variable "timeout_s" {
  type        = number
  description = "deploy.timeout_s: each AWS function's timeout in seconds (1 to 30); the code's claims on a message expire 10 s after it."
}

variable "log_retention_days" {
  type        = number
  description = "deploy.log_retention_days: how long CloudWatch keeps the functions' logs."
}

variable "settings_environment" {
  type        = map(string)
  description = "Every other non-default, non-secret setting, as the COINSWARM_* variables the functions read."
}

# -- deployment inputs that are not settings ------------------------------------------------------------

variable "package_dir" {
  type        = string
  default     = "../dist"
  description = "Where `make package` wrote the zips: <package_dir>/aws/<function>.zip and <package_dir>/gcp/<function>.zip."
}

variable "gcp_region" {
  type        = string
  default     = "us-central1"
  description = "The Google Cloud region of the functions and the scheduler job."
}

variable "azure_location" {
  type        = string
  default     = "eastus"
  description = "The Azure region of the Cosmos DB account."
}

variable "gcp_create_firestore_database" {
  type        = bool
  default     = true
  description = "Whether to create the Google Cloud project's (default) Firestore database; false where the project has one already (then the functions use it)."
}

variable "cosmos_account_name" {
  type        = string
  default     = null
  description = "The Cosmos DB account's name, which must be unique across all of Azure; null: <name_prefix>-history-<6 hex characters derived from the subscription>."
}

variable "azure_subscription_id" {
  type        = string
  description = "The Azure subscription (its Cosmos DB free tier: one account per subscription)."
}

variable "manual_trade_secret" {
  type        = string
  default     = null
  sensitive   = true
  description = "The manual trade endpoint's HMAC signing secret (several comma-separated during a rotation): TF_VAR_manual_trade_secret, never in a file."
}

variable "push_secret" {
  type        = string
  default     = null
  sensitive   = true
  description = "The signed push's shared secret, needed when deploy.placement splits the stages across clouds (TF_VAR_push_secret; e.g. `openssl rand -hex 32`), never in a file."
}

variable "exchange_api_key" {
  type        = string
  default     = null
  sensitive   = true
  description = "The first venue's API key, for live trading only (TF_VAR_exchange_api_key), never in a file. A deployment trades on paper without it."
}

variable "exchange_api_secret" {
  type        = string
  default     = null
  sensitive   = true
  description = "The first venue's API secret, for live trading only (TF_VAR_exchange_api_secret), never in a file."
}

variable "tags" {
  type        = map(string)
  default     = { project = "coinswarm" }
  description = "Tags (labels on Google Cloud) added to every resource that takes them."
}
