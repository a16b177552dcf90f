# Chain "workflow": one Workflows execution per cycle, from workflows/gcp/cycle.yaml with the functions'
# URLs and the dead-letter topic filled in. 5,000 internal steps a month are free and a cycle makes about
# 20: for low-frequency or manual cycles, not every minute.

resource "google_service_account" "workflow" {
  count = local.workflow ? 1 : 0

  project      = var.project
  account_id   = "${var.name_prefix}-cycle-workflow"
  display_name = "Coinswarm: the cycle's workflow"

  depends_on = [google_project_service.this]
}

resource "google_workflows_workflow" "cycle" {
  count = local.workflow ? 1 : 0

  project         = var.project
  region          = var.region
  name            = "${var.name_prefix}-cycle"
  description     = "Coinswarm's trading cycle as one execution"
  service_account = google_service_account.workflow[0].id
  source_contents = templatefile(coalesce(var.workflow_definition, "${path.module}/../../../workflows/gcp/cycle.yaml"), merge(
    { for f in local.cycle_functions : "${f}_url" => try(google_cloudfunctions2_function.this[f].service_config[0].uri, "not-on-gcp") }, # the precondition refuses that
    { dead_letter_topic = google_pubsub_topic.workflow_dead_letter[0].id },
  ))
  labels = local.labels
  # `terraform destroy` (or a change of deploy.chain) removes it; since google 6.11 it defaults to true.
  deletion_protection = false

  lifecycle {
    precondition {
      condition     = alltrue([for f in local.cycle_functions : contains(keys(local.functions), f)])
      error_message = "chain = \"workflow\" on Google Cloud runs the whole cycle in one execution: place tick_ingest, agent_scoring, committee_vote, order_placement and trade_logging all on gcp."
    }
  }
}

resource "google_pubsub_topic" "workflow_dead_letter" {
  #checkov:skip=CKV_GCP_83:A customer managed key needs Cloud KMS, billed per key version; messages are encrypted at rest by Google.
  count = local.workflow ? 1 : 0

  project = var.project
  name    = "${var.topic_prefix}-cycle-dead-letters"
  labels  = local.labels

  depends_on = [google_project_service.this]
}

resource "google_pubsub_subscription" "workflow_dead_letter" {
  count = local.workflow ? 1 : 0

  project                    = var.project
  name                       = "${var.topic_prefix}-cycle-dead-letters"
  topic                      = google_pubsub_topic.workflow_dead_letter[0].id
  message_retention_duration = "604800s" # 7 days: time to look and replay
  expiration_policy {
    ttl = ""
  }
  labels = local.labels
}

# The workflow may call the five stages and publish to its dead-letter topic, nothing else.
resource "google_cloud_run_service_iam_member" "workflow" {
  for_each = local.workflow ? toset([for f in local.cycle_functions : f if contains(keys(local.functions), f)]) : toset([])

  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.this[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.workflow[0].email}"
}

resource "google_pubsub_topic_iam_member" "workflow_dead_letter" {
  count = local.workflow ? 1 : 0

  project = var.project
  topic   = google_pubsub_topic.workflow_dead_letter[0].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.workflow[0].email}"
}

# The schedule's account may start executions (Workflows has no per-workflow IAM binding).
resource "google_project_iam_member" "start_workflow" {
  count = local.workflow ? 1 : 0

  project = var.project
  role    = "roles/workflows.invoker"
  member  = "serviceAccount:${google_service_account.invoker.email}"
}
