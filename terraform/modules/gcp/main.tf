# Cloud Functions (2nd gen) chained by Pub/Sub push subscriptions, Firestore for hot state, Secret
# Manager for the manual trade secret, one service account per function.

data "google_project" "this" {
  project_id = var.project
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
  labels                      = var.labels
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
  account_id   = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  display_name = "Coinswarm ${each.key}"
}

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:Only manual_trade takes requests from anywhere (each one HMAC-signed); the others are internal-only, reached by Pub/Sub and Cloud Scheduler.
  for_each = local.functions

  project     = var.project
  location    = var.region
  name        = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description = "Coinswarm ${each.key} (${each.value.trigger} trigger)"

  build_config {
    runtime     = "python312"
    entry_point = each.key # the @functions_framework function in functions/<name>/gcp.py
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
    available_memory               = "${var.memory_mb}M"
    timeout_seconds                = local.ack_deadline_s
    service_account_email          = google_service_account.function[each.key].email
    all_traffic_on_latest_revision = true
    # Pub/Sub pushes and Cloud Scheduler jobs of the same project count as internal traffic.
    ingress_settings      = each.value.trigger == "http" ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    environment_variables = merge(local.base_environment, var.secret_environment)
  }

  labels = var.labels
}

# -- who may invoke what --------------------------------------------------------------------------------

# Pub/Sub pushes and Cloud Scheduler's calls carry an OIDC token of this account, the only one allowed
# to invoke the private functions.
resource "google_service_account" "invoker" {
  project      = var.project
  account_id   = "${var.name_prefix}-invoker"
  display_name = "Coinswarm: Pub/Sub pushes and the schedule"
}

resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = { for name, f in local.functions : name => f if f.trigger != "http" }

  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.this[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker.email}"
}

# manual_trade answers anyone over HTTPS on purpose: each request must carry an HMAC signature of the manual
# trade secret (coinswarm.http.signing), and unsigned, stale or replayed requests are refused.
resource "google_cloud_run_service_iam_member" "manual_trade_public" {
  #checkov:skip=CKV_GCP_102:The endpoint authenticates each request itself (HMAC signature with a timestamp, replays refused).
  count = contains(var.functions, "manual_trade") ? 1 : 0

  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.this["manual_trade"].name
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

resource "google_cloud_scheduler_job" "tick" {
  count = contains(var.functions, "tick_ingest") ? 1 : 0 # one job: 3 are free per billing account

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
    uri         = google_cloudfunctions2_function.this["tick_ingest"].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.this["tick_ingest"].service_config[0].uri
    }
  }
}

# -- Firestore and Secret Manager ----------------------------------------------------------------------

resource "google_firestore_database" "default" {
  project                 = var.project
  name                    = "(default)" # only the (default) database has the free daily quota
  location_id             = var.firestore_location
  type                    = "FIRESTORE_NATIVE"
  delete_protection_state = "DELETE_PROTECTION_DISABLED" # `terraform destroy` tears everything down
  deletion_policy         = "DELETE"
}

resource "google_secret_manager_secret" "manual_trade" {
  count = contains(var.functions, "manual_trade") ? 1 : 0

  project   = var.project
  secret_id = "manual-trade-secret" # what functions/gcp_common.py reads
  labels    = var.labels
  replication {
    auto {}
  }
}

# One version: Secret Manager's free tier is 6 active versions and 10,000 accesses a month (the function
# reads it once per container).
resource "google_secret_manager_secret_version" "manual_trade" {
  count = contains(var.functions, "manual_trade") && var.manual_trade_secret != null ? 1 : 0

  secret      = google_secret_manager_secret.manual_trade[0].id
  secret_data = var.manual_trade_secret
}

resource "google_secret_manager_secret_iam_member" "manual_trade" {
  count = contains(var.functions, "manual_trade") ? 1 : 0

  project   = var.project
  secret_id = google_secret_manager_secret.manual_trade[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function["manual_trade"].email}"
}
