locals {
  # What each function is started by and what it publishes (functions/<name>/gcp.py; the topics of
  # coinswarm.adapters.pubsub_bus.TOPICS).
  catalogue = {
    tick_ingest     = { trigger = "schedule", consumes = null, publishes = ["candles"] }
    agent_scoring   = { trigger = "push", consumes = "candles", publishes = ["scores"] }
    committee_vote  = { trigger = "push", consumes = "scores", publishes = ["decisions"] }
    order_placement = { trigger = "push", consumes = "decisions", publishes = ["placements"] }
    trade_logging   = { trigger = "push", consumes = "placements", publishes = ["logged"] }
    manual_trade    = { trigger = "http", consumes = null, publishes = ["candles"] }
  }
  functions = { for name, f in local.catalogue : name => f if contains(var.functions, name) }

  # Every topic a function on GCP publishes or consumes; each hop's push subscription exists when its
  # consumer runs here.
  topics = toset(flatten([for f in local.functions : concat(f.publishes, f.consumes == null ? [] : [f.consumes])]))
  pushes = { for name, f in local.functions : f.consumes => name if f.consumes != null }

  max_delivery_attempts = 5  # then the message waits in the dead-letter subscription (MAX_DELIVERY_ATTEMPTS)
  ack_deadline_s        = 60 # the functions' timeout (ACK_DEADLINE_S)
  retry_backoff         = ["10s", "600s"]

  # Cloud Scheduler: 3 jobs free per billing account; this deploys at most one (tick_ingest's).
  cron = (var.cycle_minutes < 60 ? "*/${var.cycle_minutes} * * * *" :
  var.cycle_minutes < 1440 ? "0 */${floor(var.cycle_minutes / 60)} * * *" : "0 0 * * *")

  base_environment = merge(var.environment, {
    COINSWARM_STORE__STATE           = "firestore"
    COINSWARM_STORE__COORDINATION    = "firestore"
    COINSWARM_GCP__PROJECT           = var.project
    COINSWARM_GCP__COLLECTION_PREFIX = var.topic_prefix
  })
}
