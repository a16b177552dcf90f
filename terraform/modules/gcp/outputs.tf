output "function_urls" {
  description = "The HTTPS address of each function placed on Google Cloud."
  value       = { for name, f in google_cloudfunctions2_function.this : name => f.service_config[0].uri }
}

output "manual_trade_url" {
  description = "The manual trade endpoint (every request must be signed), or null when manual_trade is not on Google Cloud."
  value       = try(google_cloudfunctions2_function.this["manual_trade"].service_config[0].uri, null)
}

output "push_receiver_url" {
  description = "The push receiver's address (Cloud Run's deterministic URL, known before the function exists; every push must be signed): the other cloud's push.urls for the topics consumed here, or null when no hop crosses clouds."
  value       = length(local.received) > 0 ? local.push_receiver_url : null
}

output "workflow" {
  description = "The cycle's Workflows workflow (chain workflow), or null."
  value       = one(google_workflows_workflow.cycle[*].id)
}

output "topics" {
  description = "The Pub/Sub topics, by mesh topic."
  value       = { for topic, t in google_pubsub_topic.hop : topic => t.name }
}

output "scheduler_jobs" {
  description = "The Cloud Scheduler jobs this deployment made (3 are free per billing account)."
  value       = [for j in google_cloud_scheduler_job.tick : j.name]
}

output "received_topics" {
  description = "The topics the push receiver here takes from the other cloud."
  value       = local.received
}

output "secret_ids" {
  description = "The Secret Manager secrets this deployment created, by secret (the names only)."
  value       = { for name, s in google_secret_manager_secret.this : name => s.secret_id }
}

output "function_names" {
  description = "The Cloud Function of each function placed on Google Cloud."
  value       = { for name, f in google_cloudfunctions2_function.this : name => f.name }
}
