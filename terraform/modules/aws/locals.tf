locals {
  # What each function is started by, and what it hands on. These mirror the code:
  # the handlers are functions/<name>/aws.py, the queues coinswarm.adapters.sqs_bus.QUEUES.
  catalogue = {
    tick_ingest     = { trigger = "schedule", consumes = null, publishes = ["candles"] }
    agent_scoring   = { trigger = "sqs", consumes = "candles", publishes = ["scores"] }
    committee_vote  = { trigger = "sqs", consumes = "scores", publishes = ["decisions"] }
    order_placement = { trigger = "sqs", consumes = "decisions", publishes = ["placements"] }
    trade_logging   = { trigger = "sqs", consumes = "placements", publishes = [] }   # "logged" ends the cycle: no queue
    manual_trade    = { trigger = "http", consumes = null, publishes = ["candles"] } # its "run a cycle" ingests
  }
  # The hops (coinswarm.http.push_wire.CONSUMERS) and who produces each.
  consumers = { candles = "agent_scoring", scores = "committee_vote", decisions = "order_placement", placements = "trade_logging" }
  producers = { candles = ["tick_ingest", "manual_trade"], scores = ["agent_scoring"], decisions = ["committee_vote"], placements = ["order_placement"] }
  on_aws    = { for name, cloud in var.placement : name => cloud == "aws" }

  # A hop between clouds is a signed HTTP push. Received here: a topic consumed on AWS that a function on
  # the other cloud produces; the push receiver runs the consuming stage and hands its output on, as the
  # stage would. Pushed from here: a topic produced on AWS whose consumer runs on the other cloud.
  received = [for topic, consumer in local.consumers : topic if local.on_aws[consumer] && anytrue([for p in local.producers[topic] : !local.on_aws[p]])]
  pushed   = [for topic, consumer in local.consumers : topic if !local.on_aws[consumer] && anytrue([for p in local.producers[topic] : local.on_aws[p]])]
  # The push receiver runs the stage that consumes what it receives, and hands that stage's output on.
  receiver = length(local.received) > 0 ? {
    push_receiver = { trigger = "http", consumes = null, publishes = distinct(flatten([for topic in local.received : local.catalogue[local.consumers[topic]].publishes])) }
  } : {}
  cross_cloud = length(local.received) + length(local.pushed) > 0
  functions   = merge({ for name, f in local.catalogue : name => f if local.on_aws[name] }, local.receiver)

  # The topics handed on inside AWS: consumed here and produced here (by a stage or the push receiver).
  internal = [for topic, consumer in local.consumers : topic if local.on_aws[consumer] && anytrue([for name, f in local.functions : contains(f.publishes, topic)])]

  # chain "queues": one standard queue per internal topic, each with a dead-letter queue (sqs_bus.QueueSpec):
  # a record that fails 5 receives is moved aside and kept 14 days (the most SQS keeps); the visibility
  # timeout is six times the consumer's timeout (30 s).
  # chain "invoke": no stage queue; each producer invokes its consumer asynchronously (Lambda's own event
  # queue, free, nothing polls), and what still fails after 2 retries goes to the same dead-letter queue.
  # chain "workflow": a Step Functions execution per cycle calls the stages; one dead-letter queue.
  queue_spec = {
    batch_size           = 10
    visibility_timeout_s = 180
    retention_s          = 345600 # 4 days
    max_receive_count    = 5
    dlq_retention_s      = 1209600 # 14 days
  }
  queues  = var.chain == "queues" ? { for topic in local.internal : topic => merge(local.queue_spec, { consumer = local.consumers[topic] }) } : {}
  invoked = var.chain == "invoke" ? { for topic in local.internal : topic => local.consumers[topic] } : {}
  # Under chain "workflow" the cycle's state machine is built where the cycle runs: a cloud that holds none
  # of the five stages (manual_trade alone) has none.
  workflow        = var.chain == "workflow" && length(setintersection(local.cycle_functions, keys(local.functions))) > 0
  dead_letters    = var.chain == "workflow" ? toset(local.workflow ? ["cycle"] : []) : toset(local.internal)
  invoke_retries  = 2 # Lambda's asynchronous retries (0 to 2) before the on-failure destination
  cycle_functions = ["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging"]

  # DynamoDB, provisioned (the free tier covers provisioned capacity only: 25 RCU and 25 WCU for the whole
  # account, every region). The state table pools 10/10 for every kind of hot item (dynamodb_store.TABLES);
  # powertools' idempotency records for order_placement take 2/2 (functions/order_placement/aws.py).
  # Total 12 RCU / 12 WCU: under half the free tier, the rest left for anything else in the account.
  table_specs = {
    state       = { hash_key = "pk", hash_type = "S", range_key = "sk", range_type = "N", rcu = 10, wcu = 10, ttl = "expires_at" }
    idempotency = { hash_key = "id", hash_type = "S", range_key = null, range_type = null, rcu = 2, wcu = 2, ttl = "expiration" }
  }
  places = contains(keys(local.functions), "order_placement") || contains(local.received, "decisions")
  tables = { for name, t in local.table_specs : name => t if name == "state" || local.places }

  # Secrets: SSM SecureString parameters (standard tier, free; the AWS managed key aws/ssm, free), one per
  # secret given, each readable only by the functions that use it. The ones that are settings reach the
  # code through SECRET_SETTINGS (setting => parameter, read at cold start: functions/secret_settings.py);
  # the others the code reads by name (functions/aws_common.py AwsFunction.secrets).
  secret_specs = {
    cosmos_key          = { parameter = "cosmos-key", setting = "azure.cosmos_key", readers = keys(local.functions) }
    exchange_api_key    = { parameter = "exchange-api-key", setting = "venues.0.api_key", readers = local.placers }
    exchange_api_secret = { parameter = "exchange-api-secret", setting = "venues.0.api_secret", readers = local.placers }
    manual_trade_secret = { parameter = "manual-trade-secret", setting = null, readers = ["manual_trade"] }
    push_secret         = { parameter = "push-secret", setting = null, readers = [for name, f in local.functions : name if name == "push_receiver" || length(setintersection(f.publishes, local.pushed)) > 0] }
  }
  placers = [for name in keys(local.functions) : name if contains(["order_placement", "manual_trade"], name) || (name == "push_receiver" && contains(local.received, "decisions"))]
  given = {
    cosmos_key          = var.cosmos_key_given # known at plan even when the key itself is not (a new Cosmos DB account)
    exchange_api_key    = nonsensitive(var.secrets.exchange_api_key != null)
    exchange_api_secret = nonsensitive(var.secrets.exchange_api_secret != null)
    manual_trade_secret = nonsensitive(var.secrets.manual_trade_secret != null)
    push_secret         = nonsensitive(var.secrets.push_secret != null)
  }
  secrets = { for name, spec in local.secret_specs : name => merge(spec, { path = "/${var.name_prefix}/${spec.parameter}" }) if local.given[name] }
  # function => the parameters it may read; and the ones of those that are settings.
  readable        = { for f in keys(local.functions) : f => [for name, s in local.secrets : s.path if contains(s.readers, f)] }
  secret_settings = { for f in keys(local.functions) : f => { for name, s in local.secrets : s.setting => s.path if s.setting != null && contains(s.readers, f) } }

  rate = var.cycle_minutes == 1 ? "rate(1 minute)" : "rate(${var.cycle_minutes} minutes)"

  base_environment = merge(var.environment, {
    COINSWARM_STORE__STATE        = "dynamodb"
    COINSWARM_STORE__COORDINATION = "dynamodb"
    COINSWARM_AWS__TABLE_PREFIX   = var.name_prefix
    COINSWARM_DEPLOY__PLACEMENT   = jsonencode(var.placement)
    COINSWARM_DEPLOY__CHAIN       = jsonencode(var.chain)
    }, length(local.pushed) > 0 ? {
    COINSWARM_PUSH__URLS = jsonencode({ for topic in local.pushed : topic => var.push_urls[topic] })
  } : {})
}
