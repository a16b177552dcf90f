# Cloud Functions (2nd gen) chained by Pub/Sub push subscriptions (or a workflow), Firestore for hot state,
# Secret Manager for the secrets, one service account per function, and the push receiver when a hop
# crosses clouds.

data "google_project" "this" {
  project_id = var.project
}

# -- the APIs, enabled on a new project --------------------------------------------------------------------

resource "google_project_service" "this" {
  for_each = toset(local.services)

  project            = var.project
  service            = "${each.key}.googleapis.com"
  disable_on_destroy = false # other things in the project may use them
}

# -- sources --------------------------------------------------------------------------------------------

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Access logs of a bucket holding only the function zips would be billed storage with nothing to audit.
  #checkov:skip=CKV_GCP_78:Versioning keeps every old zip (billed storage); Terraform re-uploads a zip when its hash changes.
  name                        = "${var.project}-${var.name_prefix}-sources"
  project                     = var.project
  location                    = upper(var.region)
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels

  depends_on = [google_project_service.this]
}

resource "google_storage_bucket_object" "source" {
  for_each = local.functions

  name   = "${each.key}-${filemd5("${var.package_dir}/${each.key}.zip")}.zip" # a new name redeploys on change
  bucket = google_storage_bucket.sources.name
  source = "${var.package_dir}/${each.key}.zip"
}

# -- functions ------------------------------------------------------------------------------------------

resource "google_service_account" "function" {
  for_each = local.functions

  project      = var.project
  account_id   = var.function_names[each.key] # the function's own name: at most 30 characters
  display_name = "Coinswarm ${each.key}"

  depends_on = [google_project_service.this]
}

# Cloud Build builds each function with this account: a new project's default build account may lack the
# permissions (Cloud Build's change of July 2024), or be the Compute Engine default account with far more.
# It has the roles Google documents for a build account: write the build's logs and the image, and read the
# sources (Cloud Functions stages them in a bucket of its own, hence a project-wide storage role).
resource "google_service_account" "build" {
  project      = var.project
  account_id   = "${var.name_prefix}-build"
  display_name = "Coinswarm: builds the functions"

  depends_on = [google_project_service.this]
}

resource "google_project_iam_member" "build" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectAdmin"])

  project = var.project
  role    = each.key
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:Only manual_trade and the push receiver take requests from anywhere (each one HMAC-signed); the others are internal-only, reached by Pub/Sub, Cloud Scheduler and Workflows.
  for_each = local.functions

  project     = var.project
  location    = var.region
  name        = var.function_names[each.key]
  description = "Coinswarm ${each.key} (${each.value.trigger} trigger)"

  build_config {
    runtime         = "python312"
    entry_point     = each.key # the @functions_framework function in functions/<name>/gcp.py
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.source[each.key].name
      }
    }
  }

  service_config {
    min_instance_count             = 0 # never always-warm: an idle instance is billed for its idle time
    max_instance_count             = var.max_instances
    available_memory               = "${var.memory_mb}Mi" # deploy.memory_mb is MiB, as Lambda's MB are ("M" would be 10^6 bytes)
    timeout_seconds                = local.ack_deadline_s
    service_account_email          = google_service_account.function[each.key].email
    all_traffic_on_latest_revision = true
    # Pub/Sub pushes and Cloud Scheduler jobs of the same project count as internal traffic.
    ingress_settings = each.value.trigger == "http" ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    environment_variables = merge(local.base_environment, length(local.secret_settings[each.key]) == 0 ? {} : {
      # Not a secret: which Secret Manager secrets hold this function's secret settings (functions/secret_settings.py)
      SECRET_SETTINGS = jsonencode(local.secret_settings[each.key])
    })
  }

  lifecycle {
    precondition {
      condition     = !local.cross_cloud || (local.given.push_secret && length(setsubtract(local.pushed, keys(var.push_urls))) == 0)
      error_message = "deploy.placement splits the stages across clouds: give the shared push secret (TF_VAR_push_secret) and the other cloud's push receiver URL for each of ${jsonencode(local.pushed)} (push_urls)."
    }
  }

  labels = local.labels

  # The build's grants come first: a build without them fails.
  depends_on = [google_project_iam_member.build]
}

# -- who may invoke what --------------------------------------------------------------------------------

# Pub/Sub pushes and Cloud Scheduler's calls carry an OIDC token of this account, the only one allowed
# to invoke the private functions.
resource "google_service_account" "invoker" {
  project      = var.project
  account_id   = "${var.name_prefix}-invoker"
  display_name = "Coinswarm: Pub/Sub pushes and the schedule"

  depends_on = [google_project_service.this]
}

resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = { for name, f in local.functions : name => f if f.trigger != "http" }

  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.this[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker.email}"
}

# manual_trade and the push receiver answer anyone over HTTPS on purpose: each request must carry an HMAC
# signature (the manual trade secret, the push secret; coinswarm.http.signing), and unsigned, stale or
# replayed requests are refused.
resource "google_cloud_run_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:The endpoint authenticates each request itself (HMAC signature with a timestamp, replays refused).
  for_each = { for name, f in local.functions : name => f if f.trigger == "http" }

  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.this[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Every function reads and writes its hot state in Firestore (no narrower role exists for one database).
resource "google_project_iam_member" "firestore" {
  for_each = local.functions

  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.function[each.key].email}"
}

# -- the schedule ---------------------------------------------------------------------------------------

# It calls tick_ingest, or under chain "workflow" starts an execution of the cycle's workflow.
resource "google_cloud_scheduler_job" "tick" {
  count = contains(keys(local.functions), "tick_ingest") ? 1 : 0 # one job: 3 are free per billing account

  depends_on = [google_project_service.this]

  project          = var.project
  region           = var.region
  name             = "${var.name_prefix}-tick"
  description      = "Starts a Coinswarm cycle each time a candle closes"
  schedule         = local.cron
  time_zone        = "Etc/UTC"
  attempt_deadline = "${local.ack_deadline_s}s"

  retry_config {
    retry_count          = 2
    max_retry_duration   = "${60 * var.cycle_minutes}s" # past the next cycle, a retry is redundant
    min_backoff_duration = "5s"
  }

  http_target {
    http_method = "POST" # tick_ingest refuses anything else
    uri         = local.workflow ? "https://workflowexecutions.googleapis.com/v1/${google_workflows_workflow.cycle[0].id}/executions" : google_cloudfunctions2_function.this["tick_ingest"].service_config[0].uri
    body        = local.workflow ? base64encode(jsonencode({ argument = jsonencode({ scheduled = true }) })) : null
    dynamic "oidc_token" { # a function checks an identity token
      for_each = local.workflow ? [] : [1]
      content {
        service_account_email = google_service_account.invoker.email
        audience              = google_cloudfunctions2_function.this["tick_ingest"].service_config[0].uri
      }
    }
    dynamic "oauth_token" { # a Google API takes an access token
      for_each = local.workflow ? [1] : []
      content {
        service_account_email = google_service_account.invoker.email
        scope                 = "https://www.googleapis.com/auth/cloud-platform"
      }
    }
  }
}

# -- Firestore and Secret Manager ----------------------------------------------------------------------

# A project has at most one (default) database: where it exists already (Firestore or Datastore used
# before), set create_firestore_database = false and the functions use it as it is.
resource "google_firestore_database" "default" {
  count = var.create_firestore_database ? 1 : 0

  project                 = var.project
  name                    = "(default)" # only the (default) database has the free daily quota
  location_id             = var.firestore_location
  type                    = "FIRESTORE_NATIVE"
  delete_protection_state = "DELETE_PROTECTION_DISABLED" # `terraform destroy` tears everything down
  deletion_policy         = "DELETE"

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  project   = var.project
  secret_id = each.value.secret_id # manual-trade-secret and push-secret: what the code reads by name
  labels    = local.labels
  replication {
    auto {}
  }

  depends_on = [google_project_service.this]
}

# One version each (its value from a sensitive variable; Terraform keeps it in its state, so keep the
# state private). A secret used here but not given gets no version: add one with
# `gcloud secrets versions add`.
resource "google_secret_manager_secret_version" "this" {
  for_each = { for name, s in local.secrets : name => s if local.given[name] }

  secret      = google_secret_manager_secret.this[each.key].id
  secret_data = var.secrets[each.key]
}

resource "google_secret_manager_secret_iam_member" "reader" {
  for_each = local.readers

  project   = var.project
  secret_id = google_secret_manager_secret.this[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
