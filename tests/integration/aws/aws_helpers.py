"""Helpers of the AWS integration tests: sample events, a Lambda context, the mesh of handlers on moto,
moto's Lambda (imported by name: a module named `conftest` is ambiguous when pytest collects several
test folders in one run). The fixtures are in conftest.py."""

from __future__ import annotations

import copy
import json
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coinswarm.adapters.lambda_invoke_bus import ROUTES
from coinswarm.adapters.sqs_bus import QUEUE_OF_TOPIC, QUEUES, create_queues
from coinswarm.config.deploy import deployed_name
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle, Order
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.ports.broker import Broker, Settlement
from coinswarm.wiring.bootstrap import App
from functions.agent_scoring import aws as agent_scoring
from functions.committee_vote import aws as committee_vote
from functions.manual_trade import aws as manual_trade
from functions.order_placement import aws as order_placement
from functions.tick_ingest import aws as tick_ingest
from functions.trade_logging import aws as trade_logging
from servers.moto import REGION, aws_client

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
