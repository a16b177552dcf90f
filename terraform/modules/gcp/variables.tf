variable "project" {
  type        = string
  description = "The Google Cloud project: the configuration's gcp.project."
}

variable "region" {
  type        = string
  default     = "us-central1"
  description = "Where the functions, the scheduler job and the source bucket live. us-central1, us-east1 and us-west1 are the regions where Cloud Storage's free 5 GB apply."
}

variable "firestore_location" {
  type        = string
  default     = "nam5"
  description = "The Firestore database's location. Only the (default) database gets the free quota (1 GiB, 50,000 reads, 20,000 writes a day)."
}

variable "create_firestore_database" {
  type        = bool
  default     = true
  description = "Whether to create the project's (default) Firestore database; false where the project has one already (a project has at most one, and only it gets the free quota): the functions use it as it is."
}

variable "topic_prefix" {
  type        = string
  description = "Prefix of the Pub/Sub topics and Firestore collections: the configuration's gcp.collection_prefix."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the functions, service accounts and bucket (the configuration's aws.table_prefix, so a function has one name on both clouds)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,13}$", var.name_prefix))
    error_message = "name_prefix: 3 to 14 lower-case letters, digits or '-', starting with a letter (a service account id, <prefix>-order-placement, is at most 30 characters)."
  }
}

variable "placement" {
  type        = map(string)
  description = "deploy.placement: the cloud (aws or gcp) of each of the six functions; those on gcp are deployed here, with the push receiver when a hop crosses clouds."
  validation {
    condition     = alltrue([for cloud in values(var.placement) : contains(["aws", "gcp"], cloud)]) && length(setsubtract(["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade"], keys(var.placement))) == 0
    error_message = "placement: name the cloud (\"aws\" or \"gcp\") of every function: tick_ingest, agent_scoring, committee_vote, order_placement, trade_logging, manual_trade."
  }
}

variable "function_names" {
  type        = map(string)
  description = "The deployed name of each function (coinswarm.config.deploy.deployed_name, from `coinswarm deploy tfvars`): the Cloud Function and its service account."
  validation {
    condition     = length(setsubtract(["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade", "push_receiver"], keys(var.function_names))) == 0 && alltrue([for n in values(var.function_names) : can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", n))])
    error_message = "function_names: a name (6 to 30 lower-case letters, digits or '-': Cloud Functions and service accounts allow no '_') for each of the six functions and push_receiver; run `coinswarm deploy tfvars`."
  }
}

variable "chain" {
  type        = string
  description = "deploy.chain: on Google Cloud, invoke and queues both chain the stages by Pub/Sub push subscriptions (nothing polls); workflow runs each cycle as a Workflows execution."
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
  description = "The Workflows template of the cycle (workflows/gcp/cycle.yaml), used when chain is workflow; null: the one in this repository."
}

variable "package_dir" {
  type        = string
  description = "The folder holding one zip per function, <package_dir>/<function>.zip (dist/gcp, from `make package`)."
}

variable "cycle_minutes" {
  type        = number
  description = "Minutes between two cycles (the configuration's timeframe)."
}

variable "memory_mb" {
  type        = number
  description = "Memory of each function in MB (deploy.memory_mb)."
}

variable "max_instances" {
  type        = number
  default     = 2
  description = "The most instances of one function at once: bounds the cost of a burst of redeliveries."
}

variable "environment" {
  type        = map(string)
  default     = {}
  description = "COINSWARM_* settings every function runs with (settings_environment from `coinswarm deploy tfvars`, plus the history store's)."
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
  description = "The secrets, each kept in a Secret Manager secret (its name with - for _) that only the functions using it may read; none is ever set in a function's environment. Give them as TF_VAR_* variables, never in a file."
}

variable "cosmos_key_given" {
  type        = bool
  default     = false
  description = "Whether secrets.cosmos_key is given (the history on Cosmos DB): a new account's key is known only after apply, and the secret must be planned before."
}

variable "labels" {
  type        = map(string)
  default     = {}
  description = "Labels added to every resource that takes them, written as Google Cloud takes them: lower case, anything but letters, digits, '_' and '-' as '_', at most 63 characters."
  validation {
    condition     = alltrue([for k in keys(var.labels) : can(regex("^[A-Za-z]", k))])
    error_message = "labels: every key must start with a letter (Google Cloud label keys do)."
  }
}
