# The owner's remote control on Google Cloud (docs/remote-control.md): the telegram_webhook Cloud Function
# (Telegram's updates at /telegram, the status page at /, its JSON at /status) with its own service account,
# and its three secrets in Secret Manager, read only by it. Created only when var.remote_control.enabled.
# (The heartbeat alarm is CloudWatch's, on AWS: Cloud Monitoring's alerting policies are billed.)

variable "remote_control" {
  type = object({
    enabled = optional(bool, false)
  })
  default     = {}
  description = "The remote control: whether to deploy telegram_webhook (beside manual_trade). Its name is function_names.telegram_webhook."
}

variable "remote_secrets" {
  type = object({
    telegram_bot_token      = optional(string)
    telegram_webhook_secret = optional(string)
    status_token            = optional(string)
  })
  sensitive   = true
  default     = {}
  description = "notify.telegram_bot_token, remote.telegram_webhook_secret and remote.status_token: each a Secret Manager secret only telegram_webhook reads (SECRET_SETTINGS). Give them as TF_VAR_remote_secrets, never in a file."
}

locals {
  remote_on   = var.remote_control.enabled
  remote_name = lookup(var.function_names, "telegram_webhook", "${var.name_prefix}-telegram-webhook")
  remote_secret_specs = {
    telegram_bot_token      = { secret_id = "telegram-bot-token", setting = "notify.telegram_bot_token" }
    telegram_webhook_secret = { secret_id = "telegram-webhook-secret", setting = "remote.telegram_webhook_secret" }
    status_token            = { secret_id = "status-token", setting = "remote.status_token" }
  }
  remote_given = {
    telegram_bot_token      = nonsensitive(var.remote_secrets.telegram_bot_token != null)
    telegram_webhook_secret = nonsensitive(var.remote_secrets.telegram_webhook_secret != null)
    status_token            = nonsensitive(var.remote_secrets.status_token != null)
  }
  remote_secrets = local.remote_on ? { for name, s in local.remote_secret_specs : name => s if local.remote_given[name] } : {}
}

resource "google_secret_manager_secret" "remote" {
  for_each = local.remote_secrets

  project   = var.project
  secret_id = each.value.secret_id
  labels    = local.labels
  replication {
    auto {}
  }

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_version" "remote" {
  for_each = local.remote_secrets

  secret      = google_secret_manager_secret.remote[each.key].id
  secret_data = var.remote_secrets[each.key]
}

resource "google_service_account" "telegram_webhook" {
  count = local.remote_on ? 1 : 0

  project      = var.project
  account_id   = local.remote_name
  display_name = "Coinswarm telegram_webhook"

  depends_on = [google_project_service.this]
}

resource "google_secret_manager_secret_iam_member" "remote_reader" {
  for_each = local.remote_secrets

  project   = var.project
  secret_id = google_secret_manager_secret.remote[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.telegram_webhook[0].email}"
}

resource "google_project_iam_member" "telegram_webhook_firestore" {
  count = local.remote_on ? 1 : 0

  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.telegram_webhook[0].email}"
}

resource "google_storage_bucket_object" "telegram_webhook" {
  count = local.remote_on ? 1 : 0

  name   = "telegram_webhook-${filemd5("${var.package_dir}/telegram_webhook.zip")}.zip"
  bucket = google_storage_bucket.sources.name
  source = "${var.package_dir}/telegram_webhook.zip"
}

resource "google_cloudfunctions2_function" "telegram_webhook" {
  #checkov:skip=CKV_GCP_124:Telegram must reach it: every update carries the webhook's secret token, /status a bearer token.
  count = local.remote_on ? 1 : 0

  project     = var.project
  location    = var.region
  name        = local.remote_name
  description = "Coinswarm telegram_webhook (Telegram commands, the status page and API)"

  build_config {
    runtime         = "python312"
    entry_point     = "telegram_webhook"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.telegram_webhook[0].name
      }
    }
  }

  service_config {
    min_instance_count             = 0
    max_instance_count             = var.max_instances
    available_memory               = "${var.memory_mb}Mi"
    timeout_seconds                = 60 # Telegram waits about as long; a slow command runs before the answer here
    service_account_email          = google_service_account.telegram_webhook[0].email
    all_traffic_on_latest_revision = true
    ingress_settings               = "ALLOW_ALL"
    environment_variables = merge(local.base_environment, length(local.remote_secrets) == 0 ? {} : {
      SECRET_SETTINGS = jsonencode({ for name, s in local.remote_secrets : s.setting => "${google_secret_manager_secret.remote[name].id}/versions/latest" })
    })
  }

  labels     = local.labels
  depends_on = [google_project_iam_member.build]
}

resource "google_cloud_run_service_iam_member" "telegram_webhook_public" {
  #checkov:skip=CKV_GCP_102:Telegram must reach it; every update is checked against the secret token.
  count = local.remote_on ? 1 : 0

  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.telegram_webhook[0].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

output "telegram_webhook_url" {
  description = "The telegram_webhook function's URL (remote.status_url), or null."
  value       = try(google_cloudfunctions2_function.telegram_webhook[0].service_config[0].uri, null)
}
