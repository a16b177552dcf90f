# The history (ledger, projections, decisions, rejections) on Azure Cosmos DB's free tier: 1000 RU/s and
# 25 GB for ONE account per subscription. The containers mirror coinswarm.adapters.cosmos_history.CONTAINERS.

terraform {
  required_version = ">= 1.5"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.0, < 5.0"
    }
  }
}

data "azurerm_client_config" "current" {}

locals {
  # Cosmos DB account names are unique across all of Azure (coinswarm-history is likely someone's):
  # six hex characters derived from the subscription make it this subscription's, the same on every apply.
  account_name = coalesce(var.account_name, "${var.name_prefix}-history-${substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)}")

  audit_ttl_s = 90 * 86400 # decisions and rejections expire 90 days after they were written (AUDIT_TTL_S)

  # name => partition key, default TTL (null: TTL off, events never expire), indexed paths, newest-first index.
  containers = {
    ledger      = { partition_key = "/stream", ttl = null, indexed = ["/stream", "/seq", "/event_id"], newest_first = false, unique = ["/event_id"] }
    projections = { partition_key = "/stream", ttl = null, indexed = [], newest_first = false, unique = [] }
    decisions   = { partition_key = "/symbol", ttl = local.audit_ttl_s, indexed = ["/symbol", "/ts", "/recorded"], newest_first = true, unique = [] }
    rejections  = { partition_key = "/symbol", ttl = local.audit_ttl_s, indexed = ["/symbol", "/ts", "/recorded"], newest_first = true, unique = [] }
    episodes    = { partition_key = "/symbol", ttl = null, indexed = ["/symbol", "/ts", "/recorded"], newest_first = true, unique = [] }
  }
}

resource "azurerm_resource_group" "this" {
  name     = "${var.name_prefix}-rg"
  location = var.location
  tags     = var.tags
}

resource "azurerm_cosmosdb_account" "this" {
  #checkov:skip=CKV_AZURE_99:The functions run on AWS Lambda and Cloud Functions, whose addresses are not fixed: the account must be reachable from the internet (key-authenticated, TLS only).
  #checkov:skip=CKV_AZURE_100:A customer managed key needs Key Vault, which bills per operation; data is encrypted at rest with a Microsoft managed key.
  #checkov:skip=CKV_AZURE_140:The functions authenticate with the account key (the code's azure.cosmos_key); Entra ID auth would need identities federated from AWS and GCP.
  #checkov:skip=CKV_AZURE_101:Public network access is needed for the same reason as CKV_AZURE_99.
  name                = local.account_name
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  offer_type          = "Standard"
  kind                = "GlobalDocumentDB"

  free_tier_enabled = true # 1000 RU/s and 25 GB free for the life of the account (one per subscription)

  # One region, no automatic failover: a second region doubles the billed RU/s and storage.
  automatic_failover_enabled         = false
  multiple_write_locations_enabled   = false
  access_key_metadata_writes_enabled = false # containers change through Terraform only
  minimal_tls_version                = "Tls12"

  consistency_policy {
    consistency_level = "Session" # what the adapter assumes: a stale read only makes a write collide
  }

  geo_location {
    location          = azurerm_resource_group.this.location
    failover_priority = 0
  }

  backup {
    type = "Periodic" # the free default: two copies, every four hours; continuous backup is billed
  }

  tags = var.tags
}

resource "azurerm_cosmosdb_sql_database" "this" {
  name                = var.database
  resource_group_name = azurerm_resource_group.this.name
  account_name        = azurerm_cosmosdb_account.this.name
  # Shared by every container: the free tier's 1000 RU/s covers it all. Per-container throughput would be
  # at least 400 RU/s each: four containers would need 1600 RU/s, over the free tier.
  throughput = var.throughput
}

resource "azurerm_cosmosdb_sql_container" "this" {
  for_each = local.containers

  name                = each.key
  resource_group_name = azurerm_resource_group.this.name
  account_name        = azurerm_cosmosdb_account.this.name
  database_name       = azurerm_cosmosdb_sql_database.this.name
  partition_key_paths = [each.value.partition_key]
  default_ttl         = each.value.ttl

  # Index only the paths queries filter or sort on: every other path excluded, so writes cost fewer RU.
  indexing_policy {
    indexing_mode = "consistent"
    dynamic "included_path" {
      for_each = each.value.indexed
      content {
        path = "${included_path.value}/?"
      }
    }
    excluded_path {
      path = "/*"
    }
    dynamic "composite_index" {
      for_each = each.value.newest_first ? [1] : []
      content { # ORDER BY c.ts DESC, c.recorded DESC
        index {
          path  = "/ts"
          order = "Descending"
        }
        index {
          path  = "/recorded"
          order = "Descending"
        }
      }
    }
  }

  dynamic "unique_key" {
    for_each = each.value.unique
    content {
      paths = [unique_key.value]
    }
  }
}
