# Coinswarm across the free tiers: the functions on AWS and/or Google Cloud as deploy.placement says,
# chained as deploy.chain says (invoke, queues or a workflow), a hop between the clouds carried by a signed
# HTTP push, and the history on Azure Cosmos DB. Every setting that the code also reads comes from
# `coinswarm deploy tfvars` (coinswarm.auto.tfvars.json beside this file); the rest (regions, secrets) are
# variables of their own.

locals {
  # The history lives in Cosmos DB for every function, wherever it runs. Its key is no environment
  # variable: it is kept in SSM / Secret Manager, which each function reads at cold start.
  history_environment = {
    COINSWARM_STORE__HISTORY         = "cosmos"
    COINSWARM_AZURE__COSMOS_ENDPOINT = module.azure.cosmos_endpoint
    COINSWARM_AZURE__COSMOS_DATABASE = module.azure.database
    # The account serves one region at one address: no endpoint discovery needed.
    COINSWARM_AZURE__ENDPOINT_DISCOVERY = "false"
  }
  secrets = {
    cosmos_key          = module.azure.cosmos_key
    manual_trade_secret = var.manual_trade_secret
    push_secret         = var.push_secret
    exchange_api_key    = var.exchange_api_key
    exchange_api_secret = var.exchange_api_secret
  }
  on_aws = contains(values(var.placement), "aws")
  on_gcp = contains(values(var.placement), "gcp")
}

module "aws" {
  source = "./modules/aws"
  count  = local.on_aws ? 1 : 0

  name_prefix        = var.name_prefix
  placement          = var.placement
  function_names     = var.function_names
  chain              = var.chain
  package_dir        = "${var.package_dir}/aws"
  cycle_minutes      = var.cycle_minutes
  memory_mb          = var.memory_mb
  timeout_s          = var.timeout_s
  log_retention_days = var.log_retention_days
  environment        = merge(var.settings_environment, local.history_environment)
  secrets            = local.secrets
  cosmos_key_given   = true
  # What AWS hands to a stage on Google Cloud goes to its push receiver, whose address is known in advance.
  push_urls = local.on_gcp ? { for topic in module.gcp[0].received_topics : topic => module.gcp[0].push_receiver_url } : {}
  tags      = var.tags
}

module "gcp" {
  source = "./modules/gcp"
  count  = local.on_gcp ? 1 : 0

  project          = var.gcp_project
  region           = var.gcp_region
  name_prefix      = var.name_prefix
  topic_prefix     = var.gcp_topic_prefix
  placement        = var.placement
  function_names   = var.function_names
  chain            = var.chain
  package_dir      = "${var.package_dir}/gcp"
  cycle_minutes    = var.cycle_minutes
  memory_mb        = var.memory_mb
  environment      = merge(var.settings_environment, local.history_environment)
  secrets          = local.secrets
  cosmos_key_given = true
  # What Google Cloud hands to a stage on AWS goes to the AWS push receiver's Function URL.
  push_urls = local.on_aws ? { for topic in module.aws[0].received_topics : topic => module.aws[0].push_receiver_url } : {}
  labels    = var.tags

  create_firestore_database = var.gcp_create_firestore_database
}

module "azure" {
  source = "./modules/azure"

  name_prefix  = var.name_prefix
  account_name = var.cosmos_account_name
  location     = var.azure_location
  database     = var.cosmos_database
  tags         = var.tags
}
