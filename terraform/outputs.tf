output "manual_trade_url" {
  description = "The manual trade endpoint, on whichever cloud manual_trade is placed (every request must be signed)."
  value       = coalesce(try(module.aws[0].manual_trade_url, null), try(module.gcp[0].manual_trade_url, null), "not deployed")
}

output "http_trigger_urls" {
  description = "The HTTP address of each function that has one: the AWS Function URLs (manual_trade, push_receiver), every Cloud Function's."
  value = merge(
    try({ for name, url in { manual_trade = module.aws[0].manual_trade_url, push_receiver = module.aws[0].push_receiver_url } : name => url if url != null }, {}),
    try(module.gcp[0].function_urls, {}),
  )
}

output "push_receiver_urls" {
  description = "Where each cloud receives the signed pushes of the other (null where nothing crosses)."
  value = {
    aws = try(module.aws[0].push_receiver_url, null)
    gcp = try(module.gcp[0].push_receiver_url, null)
  }
}

output "function_names" {
  description = "The deployed function of each function, by cloud: what to look for in the console's logs."
  value = {
    aws = try(module.aws[0].function_names, {})
    gcp = try(module.gcp[0].function_names, {})
  }
}

output "secret_names" {
  description = "Where each secret is kept (SSM parameter names on AWS; Secret Manager secrets on Google Cloud). Names only."
  value = {
    aws = try(module.aws[0].secret_parameters, {})
    gcp = try(module.gcp[0].secret_ids, {})
  }
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

output "credentials_needed" {
  description = "Whose credentials this layout's apply needs: Google's only when a function is placed on Google Cloud; Azure's always (the history)."
  value       = { aws = local.on_aws, google = local.on_gcp, azure = true }
}
