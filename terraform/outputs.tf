output "manual_trade_url" {
  description = "The manual trade endpoint, on whichever cloud manual_trade is placed (every request must be signed)."
  value       = coalesce(try(module.aws[0].manual_trade_url, null), try(module.gcp[0].manual_trade_url, null), "not deployed")
}

output "http_trigger_urls" {
  description = "The HTTP address of each function that has one: the AWS Function URL of manual_trade, every Cloud Function's."
  value = merge(
    try({ manual_trade = module.aws[0].manual_trade_url }, {}),
    try(module.gcp[0].function_urls, {}),
  )
}

output "table_names" {
  description = "The DynamoDB tables, by role (state, idempotency)."
  value       = try(module.aws[0].table_names, {})
}

output "queue_urls" {
  description = "The SQS stage queues, by topic."
  value       = try(module.aws[0].queue_urls, {})
}

output "pubsub_topics" {
  description = "The Pub/Sub topics, by mesh topic."
  value       = try(module.gcp[0].topics, {})
}

output "cosmos_endpoint" {
  description = "The Cosmos DB account endpoint of the history (azure.cosmos_endpoint)."
  value       = module.azure.cosmos_endpoint
}

output "cosmos_database" {
  description = "The Cosmos DB database of the history."
  value       = module.azure.database
}

output "container_names" {
  description = "The Cosmos DB containers of the history."
  value       = module.azure.container_names
}
