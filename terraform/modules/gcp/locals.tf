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
  # The hops (coinswarm.http.push_wire.CONSUMERS) and who produces each.
  consumers = { candles = "agent_scoring", scores = "committee_vote", decisions = "order_placement", placements = "trade_logging" }
  producers = { candles = ["tick_ingest", "manual_trade"], scores = ["agent_scoring"], decisions = ["committee_vote"], placements = ["order_placement"] }
  on_gcp    = { for name, cloud in var.placement : name => cloud == "gcp" }

  # A hop between clouds is a signed HTTP push (see the AWS module): received here, or pushed from here.
  received = [for topic, consumer in local.consumers : topic if local.on_gcp[consumer] && anytrue([for p in local.producers[topic] : !local.on_gcp[p]])]
  pushed   = [for topic, consumer in local.consumers : topic if !local.on_gcp[consumer] && anytrue([for p in local.producers[topic] : local.on_gcp[p]])]
  receiver = length(local.received) > 0 ? {
    push_receiver = { trigger = "http", consumes = null, publishes = distinct(flatten([for topic in local.received : local.catalogue[local.consumers[topic]].publishes])) }
  } : {}
  cross_cloud = length(local.received) + length(local.pushed) > 0
  functions   = merge({ for name, f in local.catalogue : name => f if local.on_gcp[name] }, local.receiver)

  # The hops inside Google Cloud: consumed here and produced here (by a stage or the push receiver). Each
  # has a push subscription to its consumer, except under chain "workflow", where the workflow calls the
  # stages instead. A topic exists for everything a function here publishes (publishing to a missing
  # topic fails).
  internal = [for topic, consumer in local.consumers : topic if local.on_gcp[consumer] && anytrue([for name, f in local.functions : contains(f.publishes, topic)])]
  topics   = toset(concat(flatten([for f in local.functions : f.publishes]), local.internal))
  pushes   = var.chain == "workflow" ? {} : { for topic in local.internal : topic => local.consumers[topic] }
  # Under chain "workflow" the cycle's workflow is built where the cycle runs: a cloud that holds none of
  # the five stages (manual_trade alone) has none.
  workflow = var.chain == "workflow" && length(setintersection(local.cycle_functions, keys(local.functions))) > 0

  max_delivery_attempts = 5  # then the message waits in the dead-letter subscription (MAX_DELIVERY_ATTEMPTS)
  ack_deadline_s        = 60 # the functions' timeout (ACK_DEADLINE_S)
  retry_backoff         = ["10s", "600s"]
  cycle_functions       = ["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging"]

  # Cloud Scheduler: 3 jobs free per billing account; this deploys at most one (the cycle's start).
  cron = (var.cycle_minutes < 60 ? "*/${var.cycle_minutes} * * * *" :
  var.cycle_minutes < 1440 ? "0 */${floor(var.cycle_minutes / 60)} * * *" : "0 0 * * *")

  # Secrets: one Secret Manager secret per secret given (6 active versions and 10,000 accesses a month are
  # free; each function reads its secrets once per instance), readable only by the functions that use it.
  # The ones that are settings reach the code through SECRET_SETTINGS (setting => secret version, read at
  # cold start: functions/secret_settings.py); manual-trade-secret and push-secret are read by name
  # (functions/gcp_common.py, functions/push_receiver/gcp.py).
  placers = [for name in keys(local.functions) : name if contains(["order_placement", "manual_trade"], name) || (name == "push_receiver" && contains(local.received, "decisions"))]
  secret_specs = {
    cosmos_key          = { secret_id = "cosmos-key", setting = "azure.cosmos_key", readers = keys(local.functions) }
    exchange_api_key    = { secret_id = "exchange-api-key", setting = "venues.0.api_key", readers = local.placers }
    exchange_api_secret = { secret_id = "exchange-api-secret", setting = "venues.0.api_secret", readers = local.placers }
    manual_trade_secret = { secret_id = "manual-trade-secret", setting = null, readers = ["manual_trade"] }
    push_secret         = { secret_id = "push-secret", setting = null, readers = [for name, f in local.functions : name if name == "push_receiver" || length(setintersection(f.publishes, local.pushed)) > 0] }
  }
  given = {
    cosmos_key          = var.cosmos_key_given
    exchange_api_key    = nonsensitive(var.secrets.exchange_api_key != null)
    exchange_api_secret = nonsensitive(var.secrets.exchange_api_secret != null)
    manual_trade_secret = nonsensitive(var.secrets.manual_trade_secret != null)
    push_secret         = nonsensitive(var.secrets.push_secret != null)
  }
  # A secret a function here uses exists even when no value is given yet (add a version by hand).
  secrets         = { for name, spec in local.secret_specs : name => spec if length(setintersection(spec.readers, keys(local.functions))) > 0 && (local.given[name] || spec.setting == null) }
  readers         = merge([for name, s in local.secrets : { for f in s.readers : "${name}/${f}" => { secret = name, function = f } if contains(keys(local.functions), f) }]...)
  secret_settings = { for f in keys(local.functions) : f => { for name, s in local.secrets : s.setting => "projects/${var.project}/secrets/${s.secret_id}/versions/latest" if s.setting != null && contains(s.readers, f) } }

  # The push receiver's address, known before it exists (Cloud Run's deterministic URL): the AWS functions
  # that push here are configured with it while this side is being created.
  push_receiver_url = "https://${var.function_names["push_receiver"]}-${data.google_project.this.number}.${var.region}.run.app"

  # Google Cloud label keys and values take lower-case letters, digits, '_' and '-' only (at most 63):
  # the tags are written that way (Project = "Coin Swarm" becomes project = "coin_swarm").
  labels = { for k, v in var.labels : substr(lower(replace(k, "/[^A-Za-z0-9_-]/", "_")), 0, 63) => substr(lower(replace(v, "/[^A-Za-z0-9_-]/", "_")), 0, 63) }

  # The APIs this module calls, enabled by Terraform on a new project (and left enabled on destroy: other
  # things in the project may use them). Service Usage and Cloud Resource Manager must be on beforehand.
  services = concat(
    ["cloudfunctions", "run", "cloudbuild", "artifactregistry", "storage", "iam", "pubsub", "firestore", "secretmanager"],
    contains(keys(local.functions), "tick_ingest") ? ["cloudscheduler"] : [],
    local.workflow ? ["workflows", "workflowexecutions"] : [],
  )

  base_environment = merge(var.environment, {
    COINSWARM_STORE__STATE           = "firestore"
    COINSWARM_STORE__COORDINATION    = "firestore"
    COINSWARM_GCP__PROJECT           = var.project
    COINSWARM_GCP__COLLECTION_PREFIX = var.topic_prefix
    COINSWARM_DEPLOY__PLACEMENT      = jsonencode(var.placement)
    COINSWARM_DEPLOY__CHAIN          = jsonencode(var.chain)
    }, length(local.pushed) > 0 ? {
    COINSWARM_PUSH__URLS = jsonencode({ for topic in local.pushed : topic => lookup(var.push_urls, topic, "") })
  } : {})
}
