"""What the code does per symbol and per cycle, counted from the stages and entry points: the store
operations, the record and message sizes, the queues, as constants the usage model multiplies by the
configuration. `tests/unit/test_budget_profile.py` checks them against the real stages. What each
figure counts, and why: docs/budget.md.
"""

from __future__ import annotations

from typing import Final

# -- state store operations per symbol and cycle (reads, writes), by function ---------------------------
STATE_READS: Final[dict[str, int]] = {"tick_ingest": 2, "agent_scoring": 1, "order_placement": 4}
STATE_WRITES: Final[dict[str, int]] = {"tick_ingest": 1, "agent_scoring": 1, "order_placement": 2}
HISTORY_WRITES: Final[dict[str, int]] = {"committee_vote": 1}

# -- coordination store operations per symbol and cycle, mesh wiring: the outboxes' claim and completion --
OUTBOX_WRITES: Final[dict[str, int]] = {
    "tick_ingest": 2,
    "agent_scoring": 2,
    "committee_vote": 2,
    "order_placement": 2,
}
OUTBOX_BYTES: Final[dict[str, int]] = {  # a completed claim: the outputs' JSON, the key, status and expiry
    "tick_ingest": 550,  # the first cycle of a symbol hands on its warm-up: about 200 B more per candle, once
    "agent_scoring": 1_100,
    "committee_vote": 1_400,
    "order_placement": 400,
}
OUTBOX_KEY_BYTES: Final = 150  # of which the key (stage, cycle, symbol, digest), status, owner and expiry

# -- per order, on top ------------------------------------------------------------------------------------
ORDER_STATE_READS: Final = 7  # claim, order lookup, account (book), kill switch, pause, risk day, book before submit
ORDER_STATE_WRITES: Final = 4  # claim begin, risk day, book with the order, claim complete
FILL_HISTORY_QUERIES: Final = 3  # last sequence, events after the projection, event id unique across streams
FILL_HISTORY_POINT_READS: Final = 1  # the projection
FILL_HISTORY_WRITES: Final = 2  # the event, the projection
POWERTOOLS_IDEMPOTENCY_WRITES: Final = 2  # per order_placement record on AWS: in progress, then completed

# -- sizes in bytes (measured on the default agents and three symbols, rounded up) -----------------------
CANDLE_BYTES: Final = 120  # one DynamoDB candle item (keys, the OHLCV JSON, the expiry)
AGENT_MEMORY_BYTES: Final = 2_300  # the agents' memory document of one symbol
BOOK_BYTES: Final = 1_500  # the paper book document (orders trimmed)
DECISION_BYTES: Final = 800  # one decision with every vote and reason
LEDGER_EVENT_BYTES: Final = 500
MESSAGE_BYTES: Final[dict[str, int]] = {  # a message's JSON on the bus, a live cycle
    "candles": 400,
    "scores": 900,
    "decisions": 1_150,  # with the candle decided on, which the exit rules read
    "placements": 450,
    "logged": 100,
}

# -- per-service storage overheads -------------------------------------------------------------------------
FIRESTORE_CANDLE_BYTES: Final = 2_400  # a candle document and its automatic single-field index entries
COSMOS_DECISION_BYTES: Final = 1_300  # the decision, Cosmos DB's system properties and its index entries
COSMOS_RU_PER_WRITE: Final = 8.0  # a ~1 KB item created with the containers' indexing (about 5-10 RU)
COSMOS_RU_PER_QUERY: Final = 3.0
COSMOS_RU_PER_POINT_READ: Final = 1.0
DECISION_TTL_DAYS: Final = 90  # the decisions container's default TTL (adapters.cosmos_history.AUDIT_TTL_S)
CANDLE_TTL_BARS: Final = 2_000  # DynamoDB candles expire after this many bars; Firestore's never do
REQUEST_OVERHEAD_BYTES: Final = 1_000  # headers and framing of one HTTPS request leaving a cloud

# -- the mesh ----------------------------------------------------------------------------------------------
HOPS: Final[tuple[tuple[str, str, str], ...]] = (  # (producer, consumer, topic)
    ("tick_ingest", "agent_scoring", "candles"),
    ("agent_scoring", "committee_vote", "scores"),
    ("committee_vote", "order_placement", "decisions"),
    ("order_placement", "trade_logging", "placements"),
)
SQS_POLLERS: Final = 5  # a Lambda event source mapping long-polls its queue with five pollers, idle or not
SQS_POLL_WAIT_S: Final = 20  # each ReceiveMessage waits at most 20 s
SQS_REQUESTS_PER_MESSAGE: Final = 3  # send, the receive that returns it, delete
PUBSUB_MIN_BYTES: Final = 1_000  # Pub/Sub bills at least 1,000 bytes per publish and per delivery

# -- provisioned DynamoDB capacity (mirrors adapters.dynamodb_store.STATE_TABLE and the idempotency table
#    of functions/order_placement/aws.py; a test keeps them equal) ------------------------------------------
STATE_TABLE_CAPACITY: Final = (10, 10)  # (RCU, WCU)
IDEMPOTENCY_TABLE_CAPACITY: Final = (2, 2)

# -- workflows (one execution per cycle: ingest, a map over the symbols, then per symbol score, vote, the
#    choice on confidence, and place and log only for an order) ------------------------------------------
WORKFLOW_FIXED_STATES: Final = 2  # ingest, the map
WORKFLOW_STATES_PER_SYMBOL: Final = 3  # score, vote, choice
WORKFLOW_STATES_PER_ORDER: Final = 2  # place, log

# -- Cloud Functions CPU by memory tier (GHz), as the pricing page's table gives it ------------------------
GCF_GHZ_BY_MB: Final[tuple[tuple[int, float], ...]] = (
    (128, 0.2),
    (256, 0.4),
    (512, 0.8),
    (1024, 1.4),
    (2048, 2.4),
    (4096, 4.8),
    (8192, 4.8),
    (16384, 4.8),
)
GCF_BILLING_STEP_MS: Final = 100  # Cloud Functions rounds each invocation up to the next 100 ms

# -- the owner's remote control (functions/telegram_webhook, coinswarm.notify) ----------------------------
REMOTE_CALLS_PER_DAY: Final = 300  # Telegram commands, the status page's refresh each minute (2 h a day open)
REMOTE_DURATION_MS: Final = 1000  # usually a cold start: a call now and then (as manual_trade)
NOTIFY_WRITES_PER_EVENT: Final = 2  # per channel: the "sent at most once" claim (begin) and its completion
NOTIFY_EVENTS_PER_ORDER: Final = 2  # the fill, and at worst one risk refusal notice (one per symbol an hour)
NOTIFY_EXIT_HISTORY_QUERIES: Final = 2  # an exit's P&L: the projection and the events after it
NOTIFY_REQUEST_BYTES: Final = 1_500  # one notification's HTTPS request and answer, headers included
HEARTBEAT_ALARMS: Final = 1  # CloudWatch: no Cycles datapoint for three periods (and one per dead-letter queue)
LOG_METRICS_GCP: Final = 8  # google_logging_metric: Cycles, Fills, Errors, CycleLatency, DataLag, Orders, ...
MONITORING_POINT_BYTES: Final = 8  # Cloud Monitoring bills a scalar point as 8 bytes
