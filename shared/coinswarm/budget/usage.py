"""A month (`DAYS` days) of usage of every metered service, from the configuration alone: no I/O.

`project_usage(settings)` returns a `Usage`: each quota's projected use in a month (per day where the
quota is daily), counted as the code does them (`coinswarm.budget.profile`), at the worst case
where it varies (orders at `risk.max_orders_per_day`). How each hop and store is counted: docs/budget.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from coinswarm.budget import profile as p
from coinswarm.config.deploy import FUNCTIONS
from coinswarm.config.settings import Settings

DAYS = 30
SECONDS_PER_DAY = 86_400
STORAGE_HORIZON_DAYS = 365
GB = 1e9
GIB = float(2**30)
STAGES = ("tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging")


@dataclass
class Usage:
    """Projected use in a month (per day where the quota is daily), by quota key; `per_cycle` keeps the
    per-cycle figures the month is built from (for the tests and `--json`)."""

    month: dict[str, float] = field(default_factory=dict)
    per_cycle: dict[str, float] = field(default_factory=dict)
    invocations: dict[str, float] = field(default_factory=dict)  # per month, by function
    sqs_queues: int = 0  # queues an event source mapping polls (the invoke chain's dead-letter queues are not)
    dynamodb_capacity: tuple[int, int] = (0, 0)  # provisioned (RCU, WCU)
    cosmos_peak_ru_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, amount: float) -> None:
        self.month[key] = self.month.get(key, 0.0) + amount


def ghz_of(memory_mb: int) -> float:
    """Cloud Functions' CPU clock for a memory size: the tier at or above it."""
    for tier_mb, ghz in p.GCF_GHZ_BY_MB:
        if memory_mb <= tier_mb:
            return ghz
    return p.GCF_GHZ_BY_MB[-1][1]


def billed_s(duration_ms: int, cloud: str) -> float:
    if cloud == "gcp":
        return math.ceil(duration_ms / p.GCF_BILLING_STEP_MS) * p.GCF_BILLING_STEP_MS / 1000
    return duration_ms / 1000


def remote_deployed(settings: Settings) -> bool:
    """Whether the deployment has the telegram_webhook function: a Telegram webhook secret or a status token
    is configured (Terraform creates it only then)."""
    remote = settings.remote
    return remote.telegram_webhook_secret is not None or remote.status_token is not None


def project_usage(settings: Settings) -> Usage:
    return _Model(settings).run()


class _Model:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.d = settings.deploy
        self.n = len(settings.symbols)
        self.cycles_day = SECONDS_PER_DAY / settings.timeframe_s
        self.cycles = self.cycles_day * DAYS
        self.orders_day = min(float(settings.risk.max_orders_per_day), self.cycles_day * self.n)
        self.orders_cycle = self.orders_day / self.cycles_day
        self.cloud = {f: self.d.placement.get(f, "aws") for f in FUNCTIONS}
        self.tick_cloud = self.cloud["tick_ingest"]
        self.state_store = self._store(settings.store.state)
        self.coord_store = self._store(settings.store.coordination)
        self.fused = settings.wiring == "fused"
        self.workflow = settings.deploy.chain == "workflow" and not self.fused
        self.invoke = settings.deploy.chain == "invoke" and not self.fused
        self.u = Usage()

    def _store(self, named: str) -> str:
        if named != "default":
            return named
        return "dynamodb" if self.tick_cloud == "aws" else "firestore"

    def run(self) -> Usage:
        self._invocations()
        self._compute()
        self._hops()
        self._schedules()
        self._workflows()
        self._state()
        self._history()
        self._logs_and_secrets()
        self._remote()
        self._always_warm()
        return self.u

    # -- functions -------------------------------------------------------------------------------------------
    def _per_cycle_invocations(self) -> dict[str, float]:
        if self.fused:
            return {"tick_ingest": 1.0}
        later = self.orders_cycle if self.workflow else float(self.n)
        return {
            "tick_ingest": 1.0,
            "agent_scoring": float(self.n),
            "committee_vote": float(self.n),
            "order_placement": later,
            "trade_logging": self._messages("placements"),
        }

    def _messages(self, topic: str) -> float:
        """Messages handed on a hop in a cycle: one per symbol, but a PlacementDone only with a fill where
        order_placement runs on AWS or in a workflow (which runs place and log only for an order)."""
        if topic == "placements" and (self.workflow or self.cloud["order_placement"] == "aws"):
            return self.orders_cycle
        if topic == "decisions" and self.workflow:
            return self.orders_cycle
        return float(self.n)

    def _invocations(self) -> None:
        per_cycle = self._per_cycle_invocations()
        for f, count in per_cycle.items():
            self.u.invocations[f] = count * self.cycles
            self.u.per_cycle[f"invocations.{f}"] = count
        self.u.invocations["manual_trade"] = float(self.d.manual_calls_per_day * DAYS)
        for f, month in self.u.invocations.items():
            self.u.add("lambda_requests" if self.cloud[f] == "aws" else "gcf_invocations", month)

    def _duration_ms(self, f: str) -> int:
        ms = self.d.durations_ms
        if f == "tick_ingest" and self.fused:
            per_symbol = sum(ms[x] for x in STAGES[:4]) + ms["trade_logging"] * self.orders_cycle / self.n
            return math.ceil(per_symbol * self.n)
        return ms[f] * self.n if f == "tick_ingest" else ms[f]

    def _compute(self) -> None:
        gb = self.d.memory_mb / 1024
        for f, month in self.u.invocations.items():
            cloud = self.cloud[f]
            seconds = month * billed_s(self._duration_ms(f), cloud)
            if cloud == "aws":
                self.u.add("lambda_compute", seconds * gb)
            else:
                self.u.add("gcf_gb_s", seconds * gb)
                self.u.add("gcf_ghz_s", seconds * ghz_of(self.d.memory_mb))

    # -- the mesh's hops -------------------------------------------------------------------------------------
    def _hops(self) -> None:
        if self.fused:
            return
        queues: set[str] = set()
        for producer, consumer, topic in p.HOPS:
            messages = self._messages(topic)
            self.u.per_cycle[f"messages.{topic}"] = messages
            month = messages * self.cycles
            size = p.MESSAGE_BYTES[topic]
            src, dst = self.cloud[producer], self.cloud[consumer]
            if src != dst:
                self._egress(src, month * (size + p.REQUEST_OVERHEAD_BYTES))
            elif self.workflow:
                continue  # the workflow hands the output on; its steps are counted in _workflows
            elif src == "aws" and self.invoke:
                continue  # the consumer's asynchronous invocation: a Lambda request, counted with the invocations
            elif src == "aws":
                queues.add(topic)
                self.u.add("sqs_requests", month * p.SQS_REQUESTS_PER_MESSAGE)
            else:
                self.u.add("pubsub", month * 2 * max(size, p.PUBSUB_MIN_BYTES) / GIB)
        if self.cloud["trade_logging"] == "gcp" and not self.workflow:  # TradesLogged, published, unconsumed
            logged = self.orders_cycle * self.cycles
            self.u.add("pubsub", logged * max(p.MESSAGE_BYTES["logged"], p.PUBSUB_MIN_BYTES) / GIB)
        if self.invoke and any(self.cloud[c] == "aws" == self.cloud[f] for f, c, _ in p.HOPS):
            self.u.notes.append(
                "chain invoke: a failed invocation is retried twice (a Lambda request each) and then sent to its "
                "dead-letter queue (one SQS request); failures are not projected"
            )
        polls = len(queues) * p.SQS_POLLERS * SECONDS_PER_DAY / p.SQS_POLL_WAIT_S * DAYS
        self.u.add("sqs_requests", polls)
        self.u.sqs_queues = len(queues)
        self.u.per_cycle["sqs_idle_polls"] = polls / self.cycles

    def _egress(self, cloud: str, bytes_: float) -> None:
        if cloud == "gcp":  # AWS's egress allowance (100 GB) is not among the quotas watched here
            self.u.add("gcf_egress", bytes_ / GB)

    # -- schedules and workflows -----------------------------------------------------------------------------
    def _schedules(self) -> None:
        if self.tick_cloud == "aws":
            self.u.add("eventbridge_scheduler", self.cycles)
        else:
            self.u.add("cloud_scheduler_jobs", 1)

    def _workflows(self) -> None:
        if not self.workflow:
            return
        states: float = p.WORKFLOW_FIXED_STATES + p.WORKFLOW_STATES_PER_SYMBOL * self.n
        states += p.WORKFLOW_STATES_PER_ORDER * self.orders_cycle
        self.u.per_cycle["workflow_states"] = states
        if self.tick_cloud == "aws":
            if self.d.step_functions_type == "standard":
                self.u.add("step_functions", states * self.cycles)
            return
        calls = {f: c / self.cycles for f, c in self.u.invocations.items() if f in STAGES}
        external = sum(c for f, c in calls.items() if self.cloud[f] == "aws")
        internal = states - sum(calls.values()) + sum(c for f, c in calls.items() if self.cloud[f] == "gcp")
        self.u.add("workflows_internal", internal * self.cycles)
        self.u.add("workflows_external", external * self.cycles)

    # -- hot state ---------------------------------------------------------------------------------------------
    def _state(self) -> None:
        reads = sum(p.STATE_READS.values()) * self.n + p.ORDER_STATE_READS * self.orders_cycle
        writes = sum(p.STATE_WRITES.values()) * self.n + p.ORDER_STATE_WRITES * self.orders_cycle
        writes += self._outbox_writes()
        self.u.per_cycle["state_reads"] = reads
        self.u.per_cycle["state_writes"] = writes
        stores = {self.state_store, self.coord_store}
        if "dynamodb" in stores or self.cloud["order_placement"] == "aws":
            self._dynamodb(reads, writes, uses_state="dynamodb" in stores)
        if "firestore" in stores:
            self._firestore(reads, writes)
        for f in STAGES:  # a function on GCP reading DynamoDB, or on AWS reading Firestore: it leaves its cloud
            if self.cloud[f] == "gcp" and self.state_store == "dynamodb":
                ops = (p.STATE_READS.get(f, 0) + p.STATE_WRITES.get(f, 0)) * self.n
                self._egress("gcp", ops * self.cycles * (p.REQUEST_OVERHEAD_BYTES + p.AGENT_MEMORY_BYTES / 2))

    def _outbox_writes(self) -> float:
        """Mesh wiring: every committing stage claims each message and completes the claim with its outputs
        (stages.outbox); fused wiring delivers once and keeps none but placement's own (per symbol too)."""
        if self.fused:
            return p.OUTBOX_WRITES["order_placement"] * self.n
        return sum(p.OUTBOX_WRITES.values()) * self.n

    def _outbox_wcu(self) -> float:
        """DynamoDB: the claim (a small item, 1 WCU) and its completion with the outputs (1 WCU per KB)."""
        stages = ("order_placement",) if self.fused else tuple(p.OUTBOX_WRITES)
        per_symbol = sum(1 + math.ceil((p.OUTBOX_BYTES[f] + p.OUTBOX_KEY_BYTES) / 1024) for f in stages)
        return self.n * per_symbol

    def _dynamodb(self, reads: float, writes: float, *, uses_state: bool) -> None:
        rcu = wcu = 0
        if uses_state:
            rcu, wcu = p.STATE_TABLE_CAPACITY
        if self.cloud["order_placement"] == "aws":
            rcu, wcu = rcu + p.IDEMPOTENCY_TABLE_CAPACITY[0], wcu + p.IDEMPOTENCY_TABLE_CAPACITY[1]
        if self.d.dynamodb_billing == "on_demand":
            rcu = wcu = 0
        self.u.dynamodb_capacity = (rcu, wcu)
        self.u.add("dynamodb_rcu", rcu)
        self.u.add("dynamodb_wcu", wcu)
        if not uses_state:
            return
        n = self.n
        # strongly consistent reads: 1 RCU per 4 KB; writes: 1 WCU per KB, each item rounded up
        rcu_cycle = (
            n
            * (
                1
                + math.ceil(p.AGENT_MEMORY_BYTES / 4096)
                + p.STATE_READS["order_placement"] * math.ceil(p.BOOK_BYTES / 4096)
            )
            + p.ORDER_STATE_READS * self.orders_cycle
        )
        wcu_cycle = (
            n * (math.ceil(p.CANDLE_BYTES / 1024) + math.ceil(p.AGENT_MEMORY_BYTES / 1024))
            + n * math.ceil(p.BOOK_BYTES / 1024)
            + self.orders_cycle * (2 + 2 * math.ceil(p.BOOK_BYTES / 1024))
            + self._outbox_wcu()
        )
        self.u.per_cycle["dynamodb_rcu"] = rcu_cycle
        self.u.per_cycle["dynamodb_wcu"] = wcu_cycle
        if self.cloud["order_placement"] == "aws":
            self.u.per_cycle["idempotency_wcu"] = p.POWERTOOLS_IDEMPOTENCY_WRITES * self._placement_records()
        stored = n * p.CANDLE_TTL_BARS * p.CANDLE_BYTES + n * p.AGENT_MEMORY_BYTES + p.BOOK_BYTES
        self.u.add("dynamodb_storage", stored / GB)

    def _placement_records(self) -> float:
        return self.u.per_cycle.get("invocations.order_placement", 0.0)

    def _firestore(self, reads: float, writes: float) -> None:
        # Firestore's conditional put reads the document first: one more read per write of a document, and
        # each outbox write is a transaction that reads the claim first
        doc_writes: float = (p.STATE_WRITES["agent_scoring"] + p.STATE_WRITES["order_placement"]) * self.n
        doc_writes += p.ORDER_STATE_WRITES * self.orders_cycle + self._outbox_writes()
        self.u.add("firestore_reads", (reads + doc_writes) * self.cycles_day)
        self.u.add("firestore_writes", writes * self.cycles_day)
        self.u.add("firestore_deletes", 0.0)  # nothing deletes; TTL deletes are billed apart, never free
        candles = self.n * self.cycles_day * STORAGE_HORIZON_DAYS
        self.u.add("firestore_storage", candles * p.FIRESTORE_CANDLE_BYTES / GIB)
        self.u.notes.append(
            f"Firestore keeps candles with no expiry: storage is projected after {STORAGE_HORIZON_DAYS} days"
        )

    # -- history (Cosmos DB) ---------------------------------------------------------------------------------
    def _history(self) -> None:
        decisions = self.n * p.HISTORY_WRITES["committee_vote"]
        ru_cycle = decisions * p.COSMOS_RU_PER_WRITE + self.orders_cycle * (
            p.FILL_HISTORY_WRITES * p.COSMOS_RU_PER_WRITE * 1.25
            + p.FILL_HISTORY_QUERIES * p.COSMOS_RU_PER_QUERY
            + p.FILL_HISTORY_POINT_READS * p.COSMOS_RU_PER_POINT_READ
        )
        self.u.per_cycle["cosmos_ru"] = ru_cycle
        self.u.cosmos_peak_ru_s = ru_cycle  # worst case: a cycle's history work within one second
        self.u.add("cosmos_throughput", float(self.d.cosmos_throughput_ru_s))
        decisions_kept = self.n * self.cycles_day * p.DECISION_TTL_DAYS * p.COSMOS_DECISION_BYTES
        ledger = self.orders_day * STORAGE_HORIZON_DAYS * p.LEDGER_EVENT_BYTES * 2
        self.u.add("cosmos_storage", (decisions_kept + ledger) / GB)
        for f in ("committee_vote", "trade_logging"):
            if self.cloud[f] == "gcp":
                writes = decisions if f == "committee_vote" else self.orders_cycle * 5
                self._egress("gcp", writes * self.cycles * (p.REQUEST_OVERHEAD_BYTES + p.DECISION_BYTES))

    # -- logs, metrics, secrets ------------------------------------------------------------------------------
    def _logs_and_secrets(self) -> None:
        aws_invocations = sum(c for f, c in self.u.invocations.items() if self.cloud[f] == "aws")
        ingested = aws_invocations * self.d.log_bytes_per_invocation
        stored = ingested / DAYS * min(self.d.log_retention_days, STORAGE_HORIZON_DAYS)
        self.u.add("cloudwatch_logs", (ingested + stored) / GB)
        self.u.add("cloudwatch_metrics", float(self.d.custom_metrics))
        # the secrets Terraform keeps (terraform/modules/*/locals.tf secret_specs): the manual trade secret, the
        # exchange's key and secret, the Cosmos DB key (the history is in Cosmos DB, as `_history` projects)
        # and the push secret (stages split across clouds); on AWS standard SSM parameters, on GCP Secret
        # Manager versions
        secrets = 4 + (len(set(self.cloud.values())) > 1)
        manual = self.cloud["manual_trade"]
        if manual == "aws":
            self.u.add("ssm_parameters", float(secrets))
        else:
            self.u.add("secret_versions", float(secrets))
            self.u.add("secret_access", self.d.manual_calls_per_day * DAYS)
        if self.tick_cloud == "gcp":
            self._egress("gcp", 2 * self.n * self.cycles * p.REQUEST_OVERHEAD_BYTES)  # candles + quotes requests

    # -- the owner's remote control ---------------------------------------------------------------------------
    def _remote(self) -> None:
        """telegram_webhook beside manual_trade (its calls, compute, secrets: deployed only when the remote
        control is configured, `remote_deployed`), the notifications (their claims in the coordination store,
        their requests), the metric lines and the heartbeat alarm."""
        from coinswarm.notify.metrics import METRICS

        if remote_deployed(self.s):
            self._remote_function()
            self._alarms()
        self._notifications_and_metrics(METRICS)

    def _remote_function(self) -> None:
        cloud = self.cloud["manual_trade"]
        calls = float(p.REMOTE_CALLS_PER_DAY * DAYS)
        self.u.invocations["telegram_webhook"] = calls
        self.u.add("lambda_requests" if cloud == "aws" else "gcf_invocations", calls)
        seconds = calls * billed_s(p.REMOTE_DURATION_MS, cloud)
        gb = self.d.memory_mb / 1024
        if cloud == "aws":
            self.u.add("lambda_compute", seconds * gb)
            self.u.add("ssm_parameters", 3.0)  # the bot token, the webhook's secret token, the status token
        else:
            self.u.add("gcf_gb_s", seconds * gb)
            self.u.add("gcf_ghz_s", seconds * ghz_of(self.d.memory_mb))
            self.u.add("secret_versions", 3.0)
            self.u.add("secret_access", 3.0 * DAYS)  # read at a cold start: at most about once a day

    def _alarms(self) -> None:
        """The heartbeat (where tick_ingest runs on AWS) and one per dead-letter queue (Terraform's
        telegram.tf): a queue per hop inside AWS, or the workflow's one."""
        heartbeat = p.HEARTBEAT_ALARMS if self.tick_cloud == "aws" else 0
        inside = [t for f, c, t in p.HOPS if self.cloud[f] == "aws" and self.cloud[c] == "aws"]
        if self.d.chain == "workflow":
            inside = inside[:1]
        self.u.add("cloudwatch_alarms", float(heartbeat + len(inside)))

    def _notifications_and_metrics(self, metrics: dict[str, str]) -> None:
        notify = self.s.notify
        channels = len([c for c in (notify.discord_webhook_url, notify.slack_webhook_url, notify.webhook_url) if c])
        channels += notify.telegram_bot_token is not None
        events_cycle = self.orders_cycle * p.NOTIFY_EVENTS_PER_ORDER
        writes = events_cycle * channels * p.NOTIFY_WRITES_PER_EVENT
        self.u.per_cycle["notify_writes"] = writes
        if "dynamodb_wcu" in self.u.per_cycle:
            self.u.per_cycle["dynamodb_wcu"] += writes  # a claim is a small item: 1 WCU each
        if self.coord_store == "firestore":
            self.u.add("firestore_writes", writes * self.cycles_day)
            self.u.add("firestore_reads", writes * self.cycles_day)  # the conditional put reads first
        exit_ru = self.orders_cycle * p.NOTIFY_EXIT_HISTORY_QUERIES * p.COSMOS_RU_PER_QUERY if channels else 0.0
        self.u.per_cycle["cosmos_ru"] = self.u.per_cycle.get("cosmos_ru", 0.0) + exit_ru
        self.u.cosmos_peak_ru_s += exit_ru
        if self.cloud["order_placement"] == "gcp":
            self._egress("gcp", events_cycle * channels * self.cycles * p.NOTIFY_REQUEST_BYTES)
        on_aws = any(c == "aws" for c in self.cloud.values())
        self.u.add("cloudwatch_metrics", float(len(metrics)) if on_aws else 0.0)
        if any(c == "gcp" for c in self.cloud.values()):
            emissions = 2 * self.n * self.cycles  # ingest's line and placement's, per symbol (worst case)
            points = emissions * p.LOG_METRICS_GCP / 2
            self.u.add("monitoring_ingest", points * p.MONITORING_POINT_BYTES / 2**20)

    def _always_warm(self) -> None:
        gb = self.d.memory_mb / 1024
        for f, count in self.d.min_instances.items():
            if count <= 0:
                continue
            seconds = count * SECONDS_PER_DAY * DAYS
            if self.cloud[f] == "aws":
                self.u.add("lambda_compute", seconds * gb)
            else:
                self.u.add("gcf_gb_s", seconds * gb)
                self.u.add("gcf_ghz_s", seconds * ghz_of(self.d.memory_mb))
