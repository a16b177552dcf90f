output "cosmos_endpoint" {
  description = "The Cosmos DB account endpoint: the configuration's azure.cosmos_endpoint."
  value       = azurerm_cosmosdb_account.this.endpoint
}

output "cosmos_key" {
  description = "The account's primary key: the configuration's azure.cosmos_key."
  value       = azurerm_cosmosdb_account.this.primary_key
  sensitive   = true
}

output "database" {
  description = "The SQL database of the history."
  value       = azurerm_cosmosdb_sql_database.this.name
}

output "container_names" {
  description = "The history's containers."
  value       = [for c in azurerm_cosmosdb_sql_container.this : c.name]
}
