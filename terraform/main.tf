# Coinswarm across the free tiers: the functions on AWS and/or Google Cloud as deploy.placement says,
# chained by queues (SQS, Pub/Sub), with the history on Azure Cosmos DB. Every setting that the code also
# reads comes from `coinswarm deploy tfvars` (coinswarm.auto.tfvars.json beside this file); the rest
# (regions, secrets) are variables of their own.

locals {
  aws_functions = toset([for name, cloud in var.placement : name if cloud == "aws"])
  gcp_functions = toset([for name, cloud in var.placement : name if cloud == "gcp"])

  # The history lives in Cosmos DB for every function, wherever it runs.
  history_environment = {
    COINSWARM_STORE__HISTORY         = "cosmos"
    COINSWARM_AZURE__COSMOS_ENDPOINT = module.azure.cosmos_endpoint
    COINSWARM_AZURE__COSMOS_DATABASE = module.azure.database
    # The account serves one region at one address: no endpoint discovery needed.
    COINSWARM_AZURE__ENDPOINT_DISCOVERY = "false"
  }
  secret_environment = { COINSWARM_AZURE__COSMOS_KEY = module.azure.cosmos_key }

  # A hop whose producer and consumer run on different clouds needs a bridge (a signed HTTP push) that this
  # deployment does not create yet: see the check below.
  hops        = { scores = "agent_scoring", decisions = "committee_vote", placements = "order_placement" }
  consumers   = { candles = "agent_scoring", scores = "committee_vote", decisions = "order_placement", placements = "trade_logging" }
  cross_cloud = [for topic, consumer in local.consumers : topic if contains(["candles"], topic) ? var.placement["tick_ingest"] != var.placement[consumer] : var.placement[local.hops[topic]] != var.placement[consumer]]
}

check "no_hop_crosses_clouds" {
  assert {
    condition     = length(local.cross_cloud) == 0
    error_message = "These hops cross clouds and no bridge carries them yet: ${join(", ", local.cross_cloud)}. Place each producer with its consumer."
  }
}

module "aws" {
  source = "./modules/aws"
  count  = length(local.aws_functions) > 0 ? 1 : 0

  name_prefix         = var.name_prefix
  functions           = local.aws_functions
  package_dir         = "${var.package_dir}/aws"
  cycle_minutes       = var.cycle_minutes
  memory_mb           = var.memory_mb
  log_retention_days  = var.log_retention_days
  environment         = merge(var.settings_environment, local.history_environment)
  secret_environment  = local.secret_environment
  manual_trade_secret = var.manual_trade_secret
  tags                = var.tags
}

module "gcp" {
  source = "./modules/gcp"
  count  = length(local.gcp_functions) > 0 ? 1 : 0

  project             = var.gcp_project
  region              = var.gcp_region
  name_prefix         = var.name_prefix
  topic_prefix        = var.gcp_topic_prefix
  functions           = local.gcp_functions
  package_dir         = "${var.package_dir}/gcp"
  cycle_minutes       = var.cycle_minutes
  memory_mb           = var.memory_mb
  environment         = merge(var.settings_environment, local.history_environment)
  secret_environment  = local.secret_environment
  manual_trade_secret = var.manual_trade_secret
  labels              = var.tags
}

module "azure" {
  source = "./modules/azure"

  name_prefix = var.name_prefix
  location    = var.azure_location
  database    = var.cosmos_database
  tags        = var.tags
}
