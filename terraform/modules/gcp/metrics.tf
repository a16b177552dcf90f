# Log-based metrics from the metric lines every function writes (coinswarm.notify.metrics: one JSON line with
# "coinswarm_metric": true, which Cloud Run's logging turns into jsonPayload): each name's values as a
# distribution, counted per minute. No metrics API call on a function's path; Cloud Monitoring's free
# allotment (150 MiB of chargeable metric data a month) covers them (`coinswarm budget`: monitoring_ingest).

locals {
  log_metrics = {
    Cycles         = { unit = "1", what = "cycles run (a cycle sums to 1 over its ticks)" }
    Fills          = { unit = "1", what = "fills handed to the ledger" }
    Errors         = { unit = "1", what = "stage invocations that raised" }
    CycleLatency   = { unit = "s", what = "seconds from a cycle's tick to its placement" }
    DataLag        = { unit = "s", what = "seconds from the newest candle's close to its ingest" }
    Orders         = { unit = "1", what = "orders placed" }
    Refusals       = { unit = "1", what = "orders refused by risk" }
    NotifyFailures = { unit = "1", what = "notifications not delivered" }
  }
}

resource "google_logging_metric" "coinswarm" {
  for_each = local.log_metrics

  project         = var.project
  name            = "${var.name_prefix}/${each.key}"
  description     = "Coinswarm: ${each.value.what}"
  filter          = "resource.type=\"cloud_run_revision\" AND jsonPayload.coinswarm_metric=true AND jsonPayload.${each.key}:*"
  value_extractor = "EXTRACT(jsonPayload.${each.key})"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = each.value.unit
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 0.25
    }
  }

  depends_on = [google_project_service.this]
}
