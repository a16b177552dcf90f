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

variable "topic_prefix" {
  type        = string
  description = "Prefix of the Pub/Sub topics and Firestore collections: the configuration's gcp.collection_prefix."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the functions, service accounts and bucket (the configuration's aws.table_prefix, so a function has one name on both clouds)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,17}$", var.name_prefix))
    error_message = "name_prefix: 3 to 18 lower-case letters, digits or '-', starting with a letter (service account ids are at most 30 characters)."
  }
}

variable "functions" {
  type        = set(string)
  description = "The functions placed on Google Cloud (the placement of the configuration's deploy section)."
  validation {
    condition     = length(setsubtract(var.functions, ["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade"])) == 0
    error_message = "functions: only tick_ingest, agent_scoring, committee_vote, order_placement, trade_logging and manual_trade exist."
  }
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

variable "secret_environment" {
  type        = map(string)
  default     = {}
  sensitive   = true
  description = "COINSWARM_* settings that are secrets (the Cosmos DB key), which the code reads from its environment."
}

variable "manual_trade_secret" {
  type        = string
  default     = null
  sensitive   = true
  description = "The manual trade endpoint's HMAC signing secret, kept in Secret Manager as manual-trade-secret (TF_VAR_manual_trade_secret; never in a file)."
}

variable "labels" {
  type        = map(string)
  default     = {}
  description = "Labels added to every resource that takes them."
}
