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
  functions = { for name, f in local.catalogue : name => f if contains(var.functions, name) }

  # One standard queue per topic, each with a dead-letter queue (sqs_bus.QueueSpec): a record that fails
  # 5 receives is moved aside and kept 14 days (the most SQS keeps); the visibility timeout is six times
  # the consumer's timeout (30 s). A queue exists when its consumer runs on AWS.
  queue_spec = {
    batch_size           = 10
    visibility_timeout_s = 180
    retention_s          = 345600 # 4 days
    max_receive_count    = 5
    dlq_retention_s      = 1209600 # 14 days
  }
  queues = { for name, f in local.functions : f.consumes => merge(local.queue_spec, { consumer = name }) if f.consumes != null }

  # DynamoDB, provisioned (the free tier covers provisioned capacity only: 25 RCU and 25 WCU for the whole
  # account, every region). The state table pools 10/10 for every kind of hot item (dynamodb_store.TABLES);
  # powertools' idempotency records for order_placement take 2/2 (functions/order_placement/aws.py).
  # Total 12 RCU / 12 WCU: under half the free tier, the rest left for anything else in the account.
  table_specs = {
    state       = { hash_key = "pk", hash_type = "S", range_key = "sk", range_type = "N", rcu = 10, wcu = 10, ttl = "expires_at" }
    idempotency = { hash_key = "id", hash_type = "S", range_key = null, range_type = null, rcu = 2, wcu = 2, ttl = "expiration" }
  }
  tables = { for name, t in local.table_specs : name => t if name == "state" || contains(var.functions, "order_placement") }

  manual_trade_parameter = "/${var.name_prefix}/manual-trade-secret" # what functions/aws_common.py reads
  rate                   = var.cycle_minutes == 1 ? "rate(1 minute)" : "rate(${var.cycle_minutes} minutes)"

  base_environment = merge(var.environment, {
    COINSWARM_STORE__STATE        = "dynamodb"
    COINSWARM_STORE__COORDINATION = "dynamodb"
    COINSWARM_AWS__TABLE_PREFIX   = var.name_prefix
  })
}
