"""The AWS entry points against the session's moto server: each test gets its own tables and queues
(a fresh prefix), and the container's App built on them, as a warm Lambda container would have it.

`mesh` plays Lambda's part: it invokes a handler with an event shaped like AWS's documented samples
(`events/*.json`) and, for SQS, does what the event source mapping does: receive up to `batch` messages,
turn them into the event's records, delete those the handler did not report in `batchItemFailures`.
A mesh chains by queues (`deploy.chain = "queues"`) unless a test asks for `deploy={"chain": "invoke"}`.

For the invoke chain, `invoked_lambdas` switches the moto server to its Docker-free Lambda ("lambda-simple",
`lambda.use_docker = false`, put back after the test), which answers every invocation with the event it
received, and creates the consumers under their deployed names, with their asynchronous invocation
configured as the Terraform does (two retries, then the dead-letter queue). `AsyncLambda` then plays Lambda's
asynchronous queue: it reads, from the answers moto gave the functions' own Lambda clients, which function
was invoked (the request's path) with which event (what moto received), and hands exactly that event to
that function's handler.
"""

from __future__ import annotations

import copy
import io
import json
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from coinswarm.adapters.dynamodb_store import DynamoStore
from coinswarm.adapters.lambda_invoke_bus import ROUTES, configure_async_invocation
from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.adapters.sqs_bus import QUEUE_OF_TOPIC, QUEUES, create_queues
from coinswarm.config.deploy import deployed_name
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle, Order
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.ports.broker import Broker, Settlement
from coinswarm.wiring.bootstrap import App
from coinswarm.wiring.cloud import container_app, reset_container_app
from functions.agent_scoring import aws as agent_scoring
from functions.committee_vote import aws as committee_vote
from functions.manual_trade import aws as manual_trade
from functions.order_placement import aws as order_placement
from functions.tick_ingest import aws as tick_ingest
from functions.trade_logging import aws as trade_logging
from servers.moto import REGION, aws_client, drop_dynamo_tables, new_dynamo_store

EVENTS = Path(__file__).parent / "events"
SYMBOLS = ("BTC-USD", "ETH-USD")
TF = 60
WARMUP = 50
HISTORY = 90  # candles of synthetic history before the current minute: warm-up plus the cycles a test runs
VENUE_KEY = "venue-key-AKIAEXAMPLE123"
VENUE_SECRET = "venue-secret-wJalrXUtnFEMI-K7MDENG"
FUNCTIONS = (tick_ingest, agent_scoring, committee_vote, order_placement, trade_logging, manual_trade)


def sample(name: str) -> dict[str, Any]:
    """One of AWS's documented sample events (adapted to carry Coinswarm bodies)."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that powertools reads."""

    function_name: str = "coinswarm-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:coinswarm-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class CountingBroker(Broker):
    """The paper broker, counting what is submitted to it."""

    name = "paper"

    def __init__(self, inner: Broker) -> None:
        self.inner = inner
        self.submitted: list[str] = []

    def submit(self, order: Order) -> Order:
        self.submitted.append(order.client_order_id)
        return self.inner.submit(order)

    def settle(self, symbol: str, observed_price: float, ts: int) -> Settlement:
        return self.inner.settle(symbol, observed_price, ts)

    def has_pending(self, symbol: str) -> bool:
        return self.inner.has_pending(symbol)

    def account(self) -> Any:
        return self.inner.account()

    def get_order(self, client_order_id: str) -> Order | None:
        return self.inner.get_order(client_order_id)


@dataclass
class Delivered:
    records: int = 0
    failed: list[str] = field(default_factory=list)  # message ids reported in batchItemFailures


class Mesh:
    """One test's AWS side: tables and queues under its own prefix, and the container's App on them."""

    def __init__(self, endpoint: str, prefix: str, settings: Settings, app: App, broker: CountingBroker) -> None:
        self.endpoint = endpoint
        self.prefix = prefix
        self.settings = settings
        self.app = app
        self.broker = broker
        self.sqs = aws_client("sqs", endpoint)
        self.urls = create_queues(self.sqs, prefix)
        self.dlq_urls = {q.topic: self.sqs.get_queue_url(QueueName=q.dlq_name(prefix))["QueueUrl"] for q in QUEUES}
        self.now = int(time.time()) // TF * TF

    # -- events ------------------------------------------------------------------------------------

    def scheduler_event(self, ts: int) -> dict[str, Any]:
        event = sample("scheduler_event")
        event["time"] = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return event

    def receive(self, topic: str, *, most: int = 10, dlq: bool = False) -> list[dict[str, Any]]:
        url = (self.dlq_urls if dlq else self.urls)[topic]
        got: list[dict[str, Any]] = []
        while len(got) < most:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, most - len(got)),
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not batch:
                break
            got.extend(batch)
        return got

    def sqs_event(self, topic: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """Lambda's SQS event for these received messages, record by record as in the AWS sample."""
        template = sample("sqs_event")["Records"][0]
        arn = f"arn:aws:sqs:{REGION}:123456789012:{QUEUE_OF_TOPIC[topic].name(self.prefix)}"
        records = []
        for m in messages:
            record = copy.deepcopy(template)
            record.update(
                messageId=m["MessageId"],
                receiptHandle=m["ReceiptHandle"],
                body=m["Body"],
                md5OfBody=m["MD5OfBody"],
                eventSourceARN=arn,
                awsRegion=REGION,
            )
            record["attributes"] = {k: v for k, v in m["Attributes"].items() if k in template["attributes"]}
            record["messageAttributes"] = {
                name: {
                    "stringValue": value.get("StringValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in m.get("MessageAttributes", {}).items()
            }
            records.append(record)
        return {"Records": records}

    def deliver(self, topic: str, handler: Callable[..., dict[str, Any]], *, batch: int = 10) -> Delivered:
        """Drain the topic's queue into `handler`, as the event source mapping would."""
        done = Delivered()
        while messages := self.receive(topic, most=batch):
            response = handler(self.sqs_event(topic, messages), LambdaContext())
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            done.records += len(messages)
            done.failed.extend(sorted(failed))
            for m in messages:
                if m["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.urls[topic], ReceiptHandle=m["ReceiptHandle"])
            if failed:
                break  # they stay invisible until their visibility timeout, as on AWS
        return done

    def cycle(self, ts: int) -> dict[str, int]:
        """One whole cycle through the queues: the schedule's event, then each queue drained in turn."""
        out = tick_ingest.handler(self.scheduler_event(ts), LambdaContext())
        counts = {"published": out["published"]}
        for topic, module in (
            ("candles", agent_scoring),
            ("scores", committee_vote),
            ("decisions", order_placement),
            ("placements", trade_logging),
        ):
            delivered = self.deliver(topic, module.handler)
            assert delivered.failed == [], f"{topic}: {delivered.failed}"
            counts[topic] = delivered.records
        return counts

    def depth(self, topic: str, *, dlq: bool = False) -> int:
        url = (self.dlq_urls if dlq else self.urls)[topic]
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def drop(self) -> None:
        for url in [*self.urls.values(), *self.dlq_urls.values()]:
            self.sqs.delete_queue(QueueUrl=url)


def series(end: int) -> dict[str, list[Candle]]:
    """Synthetic candles up to the current minute (the stores' TTLs run on the real clock)."""
    start = end - HISTORY * TF
    return {
        s: synthetic_candles(s, HISTORY, seed=11 + i, start_ts=start, timeframe_s=TF, start_price=100.0 * (i + 1))
        for i, s in enumerate(SYMBOLS)
    }


def mesh_settings(endpoint: str, prefix: str, history: Path, **sections: dict[str, Any]) -> Settings:
    data: dict[str, Any] = {
        "symbols": list(SYMBOLS),
        "venues": [{"name": "coinbase", "fee_bps": 60.0, "api_key": VENUE_KEY, "api_secret": VENUE_SECRET}],
        "committee": {"threshold": 0.45, "quorum": 1},  # the mean-reversion agent alone may act
        "market": {"warmup_candles": WARMUP},
        "store": {"path": str(history), "state": "dynamodb", "coordination": "dynamodb"},
        "aws": {"region": REGION, "endpoint_url": endpoint, "table_prefix": prefix},
        "deploy": {"chain": "queues"},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return Settings.model_validate(data)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials for the clients the functions build themselves (the stand-in ignores them);
    no profile, config file or deployment variable of the machine leaks in."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "COINSWARM_MANUAL_TRADE_SECRET", "COINSWARM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for q in QUEUES:
        monkeypatch.delenv(f"COINSWARM_QUEUE_URL_{q.topic.upper()}", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def make_mesh(moto_server: str, aws_env: None, tmp_path: Path) -> Iterator[Callable[..., Mesh]]:
    """`make(**sections)`: a Mesh whose settings take these section overrides (e.g. committee={...})."""
    made: list[tuple[Mesh, Any, Any]] = []

    def make(**sections: dict[str, Any]) -> Mesh:
        prefix = f"cs{uuid.uuid4().hex[:10]}"
        tables = new_dynamo_store(moto_server, prefix=prefix)
        ddb = aws_client("dynamodb", moto_server)
        ddb.create_table(**order_placement.IDEMPOTENCY_TABLE.create_table_request(prefix))
        settings = mesh_settings(moto_server, prefix, tmp_path / f"{prefix}.db", **sections)
        now = int(time.time()) // TF * TF
        broker = CountingBroker(
            PaperBroker(
                DynamoStore.from_settings(settings),
                account=settings.account,
                starting_cash=settings.paper.starting_cash,
                fee_bps=settings.paper.fee_bps,
                slippage_bps=settings.paper.slippage_bps,
                min_order_notional=settings.risk.min_order_notional,
            )
        )
        reset_container_app()
        app = container_app(
            settings, market=ReplayMarketData(series(now), label="test series", recent_limit=WARMUP), broker=broker
        )
        mesh = Mesh(moto_server, prefix, settings, app, broker)
        made.append((mesh, tables, ddb))
        return mesh

    yield make
    reset_container_app()
    for mesh, tables, ddb in made:
        mesh.drop()
        drop_dynamo_tables(tables)
        ddb.delete_table(TableName=order_placement.IDEMPOTENCY_TABLE.name(mesh.prefix))
        mesh.sqs.close()
        ddb.close()


@pytest.fixture
def logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every JSON line the functions' Loggers write during the test, parsed."""
    buffer = io.StringIO()
    handlers = [module.function.logger.registered_handler for module in FUNCTIONS]
    before = [h.setStream(buffer) for h in handlers]
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    for h, stream in zip(handlers, before, strict=True):
        h.setStream(stream)


# -- the invoke chain --------------------------------------------------------------------------------------


def moto_api(endpoint: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        endpoint + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


@dataclass
class Invocation:
    function: str  # the name in the request's path, as moto received it
    event: bytes  # the event moto received (lambda-simple answers with it)
    status: int


class AsyncLambda:
    """Lambda's side of the invoke chain: the consumers deployed on moto under their deployed names, and
    the asynchronous queue, played by the test from what moto received."""

    def __init__(self, endpoint: str, prefix: str) -> None:
        self.prefix = prefix
        self.client = aws_client("lambda", endpoint)
        self.iam = aws_client("iam", endpoint)
        self.role = self.iam.create_role(
            RoleName=f"{prefix}-invoke",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        self.functions = [route.function_name(prefix) for route in ROUTES]
        for name in self.functions:
            self.client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=self.role,
                Handler="handler.handler",
                Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},  # never run: lambda-simple answers itself
                Architectures=["arm64"],
            )
        self.queue: list[Invocation] = []
        self.handled: Counter[str] = Counter()

    def watch(self, client: Any) -> None:
        """Note every asynchronous invocation this Lambda client makes, as moto answered it."""

        def answered(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
            path = urllib.parse.urlsplit(http_response.url).path  # /2015-03-31/functions/<name>/invocations
            name = urllib.parse.unquote(path.split("/")[-2])
            self.queue.append(Invocation(name, parsed["Payload"].read(), parsed["StatusCode"]))

        client.meta.events.register("after-call.lambda.Invoke", answered)

    def run(self, handlers: dict[str, Callable[..., Any]]) -> Counter[str]:
        """Hand each queued event to its function's handler (`handlers` by function, named as in FUNCTIONS),
        and what those invoke in turn, until nothing is left; how many each function handled."""
        by_name = {deployed_name(f, self.prefix): h for f, h in handlers.items()}
        ran: Counter[str] = Counter()
        while self.queue:
            invocation = self.queue.pop(0)
            assert invocation.status == 202, invocation
            function = invocation.function.removeprefix(f"{self.prefix}-").replace("-", "_")
            by_name[invocation.function](json.loads(invocation.event), LambdaContext())
            ran[function] += 1
        self.handled.update(ran)
        return ran

    def drop(self) -> None:
        for name in self.functions:
            self.client.delete_function(FunctionName=name)
        self.iam.delete_role(RoleName=f"{self.prefix}-invoke")
        self.client.close()
        self.iam.close()


STAGE_HANDLERS: dict[str, Callable[..., Any]] = {
    "agent_scoring": agent_scoring.handler,
    "committee_vote": committee_vote.handler,
    "order_placement": order_placement.handler,
    "trade_logging": trade_logging.handler,
}


@pytest.fixture
def lambda_simple(moto_server: str) -> Iterator[str]:
    """moto's Lambda without Docker for one test: an invocation answers with the event it received."""
    before = moto_api(moto_server, "/moto-api/config")
    moto_api(moto_server, "/moto-api/config", {"lambda": {"use_docker": False}})
    try:
        yield moto_server
    finally:
        moto_api(moto_server, "/moto-api/config", {"lambda": before["lambda"]})


@pytest.fixture
def invoked_lambdas(lambda_simple: str) -> Iterator[Callable[[Mesh], AsyncLambda]]:
    """`deploy(mesh)`: the mesh's consumers on moto's Lambda, and every function's bus watched."""
    made: list[AsyncLambda] = []

    def deploy(mesh: Mesh) -> AsyncLambda:
        assert mesh.settings.deploy.chain == "invoke"
        lam = AsyncLambda(lambda_simple, mesh.prefix)
        made.append(lam)
        configure_async_invocation(lam.client, mesh.sqs, mesh.prefix)  # as the Terraform does
        for module in FUNCTIONS:
            lam.watch(module.function.bus().client)
        return lam

    yield deploy
    for lam in made:
        lam.drop()
