# The mesh on Pub/Sub (coinswarm.adapters.pubsub_bus.TOPICS): a topic per hop, a push subscription to the
# consumer function, and a dead-letter topic with a pull subscription that keeps what failed 5 times.
# Pub/Sub's free tier is 10 GiB of messages a month; a cycle's messages are a few KB.

resource "google_pubsub_topic" "hop" {
  #checkov:skip=CKV_GCP_83:A customer managed key needs Cloud KMS, billed per key version; messages are encrypted at rest by Google.
  for_each = local.topics

  project = var.project
  name    = "${var.topic_prefix}-${each.key}"
  labels  = local.labels

  depends_on = [google_project_service.this]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:A customer managed key needs Cloud KMS, billed per key version; messages are encrypted at rest by Google.
  for_each = local.pushes

  project = var.project
  name    = "${var.topic_prefix}-${each.key}-dead-letters"
  labels  = local.labels

  depends_on = [google_project_service.this]
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.pushes

  project                    = var.project
  name                       = "${var.topic_prefix}-${each.key}-dead-letters"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = "604800s" # 7 days, the most a subscription keeps: time to look and replay
  expiration_policy {
    ttl = "" # never expires
  }
  labels = local.labels
}

resource "google_pubsub_subscription" "push" {
  for_each = local.pushes

  project              = var.project
  name                 = "${var.topic_prefix}-${each.key}-${replace(each.value, "_", "-")}"
  topic                = google_pubsub_topic.hop[each.key].id
  ack_deadline_seconds = local.ack_deadline_s

  push_config {
    push_endpoint = google_cloudfunctions2_function.this[each.value].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.invoker.email
    }
  }

  retry_policy {
    minimum_backoff = local.retry_backoff[0]
    maximum_backoff = local.retry_backoff[1]
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = local.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expires, however long the bot is paused
  }
  labels = local.labels
}

# Each function may publish on the topics it hands on to, and on no other.
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = merge([for name, f in local.functions : { for topic in f.publishes : "${name}/${topic}" => { function = name, topic = topic } }]...)

  project = var.project
  topic   = google_pubsub_topic.hop[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Without these two grants to Pub/Sub's own service agent, dead-lettering silently does not happen.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.pushes

  project = var.project
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.pushes

  project      = var.project
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
