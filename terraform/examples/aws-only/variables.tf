# The first group comes from `coinswarm deploy tfvars` (the project's configuration); see terraform/variables.tf.

variable "name_prefix" {
  type        = string
  default     = "coinswarm"
  description = "aws.table_prefix of the configuration: the prefix of every resource name."
}

variable "aws_region" {
  type        = string
  default     = "us-east-1"
  description = "aws.region of the configuration: where everything is created."
}

variable "placement" {
  type        = map(string)
  description = "deploy.placement: the cloud of each function. Only the functions on \"aws\" are deployed by this example."
}

variable "cycle_minutes" {
  type        = number
  description = "Minutes between cycles, from the configuration's timeframe."
}

variable "memory_mb" {
  type        = number
  description = "deploy.memory_mb: memory of each function."
}

variable "timeout_s" {
  type        = number
  description = "deploy.timeout_s: each function's timeout in seconds (1 to 30)."
  default     = 30
}

variable "log_retention_days" {
  type        = number
  description = "deploy.log_retention_days: how long CloudWatch keeps the logs."
}

variable "settings_environment" {
  type        = map(string)
  default     = {}
  description = "The configuration's other non-default, non-secret settings as COINSWARM_* variables."
}

variable "symbols" {
  type        = list(string)
  default     = []
  description = "The configuration's symbols (informative here: the functions read them from settings_environment)."
}

variable "timeframe" {
  type        = string
  default     = "1m"
  description = "The configuration's timeframe (cycle_minutes is what the schedule uses)."
}

variable "chain" {
  type        = string
  default     = "queues"
  description = "deploy.chain: invoke, queues or workflow (see the AWS module)."
}

variable "function_names" {
  type        = map(string)
  description = "The deployed name of each function (coinswarm.config.deploy.deployed_name), from `coinswarm deploy tfvars`."
}

variable "gcp_topic_prefix" {
  type        = string
  default     = "coinswarm"
  description = "gcp.collection_prefix (not used by the AWS part; written by `coinswarm deploy tfvars`)."
}

variable "gcp_project" {
  type        = string
  default     = "coinswarm"
  description = "gcp.project (not used by the AWS part; written by `coinswarm deploy tfvars`)."
}

variable "cosmos_database" {
  type        = string
  default     = "coinswarm"
  description = "azure.cosmos_database: the Cosmos DB database of the history."
}

# Deployment inputs that are not in the configuration.

variable "package_dir" {
  type        = string
  default     = "../../../dist/aws"
  description = "Where `make package` wrote the Lambda zips, <package_dir>/<function>.zip."
}

variable "aws_endpoint" {
  type        = string
  default     = null
  description = "A local stand-in's URL (a moto server) for every AWS service; null for AWS itself."
}

variable "cosmos_endpoint" {
  type        = string
  default     = null
  description = "The Cosmos DB account endpoint that keeps the history (terraform/modules/azure's output), or null."
}

variable "cosmos_key" {
  type        = string
  default     = null
  sensitive   = true
  description = "The Cosmos DB account key (TF_VAR_cosmos_key); never in a file."
}

variable "manual_trade_secret" {
  type        = string
  default     = null
  sensitive   = true
  description = "The manual trade endpoint's signing secret (TF_VAR_manual_trade_secret); never in a file."
}

variable "push_secret" {
  type        = string
  default     = null
  sensitive   = true
  description = "The signed push's shared secret, needed when deploy.placement splits the stages across clouds (TF_VAR_push_secret); never in a file."
}

variable "exchange_api_key" {
  type        = string
  default     = null
  sensitive   = true
  description = "The first venue's API key, for live trading only (TF_VAR_exchange_api_key); never in a file."
}

variable "exchange_api_secret" {
  type        = string
  default     = null
  sensitive   = true
  description = "The first venue's API secret, for live trading only (TF_VAR_exchange_api_secret); never in a file."
}

variable "push_urls" {
  type        = map(string)
  default     = {}
  description = "The other cloud's push receiver URL of each topic consumed there (the GCP module's push_receiver_url), when deploy.placement splits the stages."
}

variable "workflow_definition" {
  type        = string
  default     = null
  description = "The Step Functions template of the cycle, when chain is workflow; null: workflows/aws/cycle.asl.json of this repository."
}
