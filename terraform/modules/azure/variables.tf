variable "name_prefix" {
  type        = string
  description = "Prefix of the resource group and the Cosmos DB account (<name_prefix>-history-<6 hex>: an account name is 3 to 44 lower-case letters, digits and '-')."
  validation {
    condition     = can(regex("^[a-z0-9-]{3,29}$", var.name_prefix))
    error_message = "name_prefix: 3 to 29 lower-case letters, digits or '-' (Cosmos DB account names allow nothing else, and at most 44 characters)."
  }
}

variable "account_name" {
  type        = string
  default     = null
  description = "The Cosmos DB account's name, unique across all of Azure (3 to 44 lower-case letters, digits and '-'); null: <name_prefix>-history-<6 hex characters derived from the subscription>."
  validation {
    condition     = var.account_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$", var.account_name))
    error_message = "account_name: 3 to 44 lower-case letters, digits or '-', not starting or ending with '-'."
  }
}

variable "location" {
  type        = string
  description = "The Azure region of the account, e.g. westeurope or eastus."
}

variable "database" {
  type        = string
  default     = "coinswarm"
  description = "The SQL database: the configuration's azure.cosmos_database."
}

variable "throughput" {
  type        = number
  default     = 1000
  description = "The database's shared throughput in RU/s. The free tier covers 1000 RU/s for the account; more is billed."
  validation {
    condition     = var.throughput >= 400 && var.throughput <= 1000 && var.throughput % 100 == 0
    error_message = "throughput: 400 to 1000 RU/s in steps of 100 (above 1000 the free tier no longer covers it)."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags added to every resource."
}
