# Every function on AWS, the AWS part alone: what `terraform apply` here deploys, and the fixture the tests
# apply to a moto server (aws_endpoint set). Run `coinswarm deploy tfvars --out terraform/examples/aws-only/coinswarm.auto.tfvars.json`
# first: the configuration's symbols, cadence, memory and retention come from there.
#
# A deployment needs somewhere to keep the history (the ledger): Cosmos DB (terraform/modules/azure, or
# the root module, which composes all three clouds). Give its endpoint and key as cosmos_endpoint and
# TF_VAR_cosmos_key; without them the functions keep their default history store. Functions placed on
# "gcp" are not deployed here; a hop to them is pushed to push_urls (the GCP module's push_receiver_url).

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  # A local stand-in (moto) instead of AWS: every service at one address, no real account looked up.
  skip_credentials_validation = var.aws_endpoint != null
  skip_requesting_account_id  = var.aws_endpoint != null
  skip_metadata_api_check     = var.aws_endpoint != null
  access_key                  = var.aws_endpoint != null ? "testing" : null
  secret_key                  = var.aws_endpoint != null ? "testing" : null

  endpoints {
    cloudwatchlogs = var.aws_endpoint
    dynamodb       = var.aws_endpoint
    iam            = var.aws_endpoint
    lambda         = var.aws_endpoint
    scheduler      = var.aws_endpoint
    sfn            = var.aws_endpoint
    sqs            = var.aws_endpoint
    ssm            = var.aws_endpoint
    sts            = var.aws_endpoint
  }
}

module "aws" {
  source = "../../modules/aws"

  name_prefix         = var.name_prefix
  placement           = var.placement
  function_names      = var.function_names
  chain               = var.chain
  package_dir         = var.package_dir
  cycle_minutes       = var.cycle_minutes
  memory_mb           = var.memory_mb
  timeout_s           = var.timeout_s
  log_retention_days  = var.log_retention_days
  environment         = merge(var.settings_environment, var.cosmos_endpoint == null ? {} : { COINSWARM_STORE__HISTORY = "cosmos", COINSWARM_AZURE__COSMOS_ENDPOINT = var.cosmos_endpoint, COINSWARM_AZURE__COSMOS_DATABASE = var.cosmos_database })
  push_urls           = var.push_urls
  workflow_definition = var.workflow_definition
  cosmos_key_given    = var.cosmos_endpoint != null
  secrets = {
    cosmos_key          = var.cosmos_key
    manual_trade_secret = var.manual_trade_secret
    push_secret         = var.push_secret
    exchange_api_key    = var.exchange_api_key
    exchange_api_secret = var.exchange_api_secret
  }
  tags           = { project = "coinswarm" }
  remote_control = var.remote_control
  remote_secrets = var.remote_secrets
}
