output "function_urls" {
  description = "The HTTPS address of each function placed on Google Cloud."
  value       = { for name, f in google_cloudfunctions2_function.this : name => f.service_config[0].uri }
}

output "manual_trade_url" {
  description = "The manual trade endpoint (every request must be signed), or null when manual_trade is not on Google Cloud."
  value       = contains(var.functions, "manual_trade") ? google_cloudfunctions2_function.this["manual_trade"].service_config[0].uri : null
}

output "topics" {
  description = "The Pub/Sub topics, by mesh topic."
  value       = { for topic, t in google_pubsub_topic.hop : topic => t.name }
}

output "scheduler_jobs" {
  description = "The Cloud Scheduler jobs this deployment made (3 are free per billing account)."
  value       = [for j in google_cloud_scheduler_job.tick : j.name]
}
