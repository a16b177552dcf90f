"""The bus on AWS without polling: each message is handed to the function that consumes it by an
asynchronous Lambda invocation (`deploy.chain = "invoke"`, the default).

`publish(topic, message)` calls `lambda:Invoke` with `InvocationType="Event"` on the consumer of the topic,
the function deployed as `deployed_name(consumer, aws.table_prefix)`:

    candles    -> {prefix}-agent-scoring      on failure: {prefix}-candles-dlq
    scores     -> {prefix}-committee-vote     on failure: {prefix}-scores-dlq
    decisions  -> {prefix}-order-placement    on failure: {prefix}-decisions-dlq
    placements -> {prefix}-trade-logging      on failure: {prefix}-placements-dlq

Lambda puts the event on the consumer's own asynchronous queue and answers 202 at once. It then runs the
function; when the function fails, Lambda retries it `ASYNC_RETRIES` (2) times (about one and then two
minutes later, `ASYNC_RETRY_DELAYS_S`), and after the last failure, or once the event is older than
`MAX_EVENT_AGE_S`, sends a record of the invocation (the event as `requestPayload`, the error as
`responsePayload`) to the on-failure destination: the topic's dead-letter SQS queue
(`QueueSpec.dlq_name`, the same queues as the queue chain's), kept 14 days for a look or a replay.
Nothing polls: SQS is touched only when something failed three times. The Terraform mirrors this
(`aws_lambda_function_event_invoke_config` per consumer; `lambda:InvokeFunction` on its consumer only
for each producer; `sqs:SendMessage` on its dead-letter queue for each consumer, since Lambda sends to a
destination with the function's own role; no event source mapping); `configure_async_invocation` does
the same for tests and a first deploy without it.

Delivery is at least once, as on a queue (Lambda's asynchronous queue may run an event twice, and a
retry repeats work that half happened): every consumer is idempotent, as for SQS.

The event (the payload) is the envelope the signed HTTP push uses, without its per-attempt push id:

    {"topic": "decisions", "cycle_id": "cycle-1718000000", "message": {...}}

`message` is the stage message as every bus encodes it (`coinswarm.stages.messages.encode`); `topic`
and `cycle_id` are what SQS carries as message attributes: the consumer checks the topic is its own and
logs under the cycle id (the correlation id) even when the message cannot be read. `read_event` is
the consumer's side (`functions/aws_common.py`).

boto3 is imported here and in the other AWS adapters only; the client is injected (`from_settings`
builds one from the configuration).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from coinswarm.adapters.sqs_bus import QUEUE_OF_TOPIC, TERMINAL
from coinswarm.config.deploy import deployed_name
from coinswarm.errors import CoinswarmError, PermanentBusError, TransientBusError
from coinswarm.ports.bus import Bus, Handler
from coinswarm.stages.messages import Message, encode

MAX_PAYLOAD_BYTES = 262_144  # an asynchronous invocation's event, at most 256 KiB (as an SQS body)
ASYNC_RETRIES = 2  # Lambda's retries of a failed asynchronous invocation (its default and its maximum)
ASYNC_RETRY_DELAYS_S = (60, 120)  # Lambda's wait before each retry, from the failure before it (AWS's doc)
MAX_EVENT_AGE_S = 21_600  # how long Lambda keeps an event it could not run yet: 6 hours (default, maximum)
ENVELOPE_FIELDS = ("topic", "cycle_id", "message")
_PERMANENT = frozenset(
    {
        "ResourceNotFoundException",  # no such function (not deployed, or another prefix)
        "AccessDeniedException",  # this function may not invoke that one
        "InvalidParameterValueException",
        "InvalidRequestContentException",
        "RequestTooLargeException",
    }
)


@dataclass(frozen=True, slots=True)
class InvokeRoute:
    """One hop of the chain: the topic, the function that consumes it, where its failures end up."""

    topic: str
    consumer: str

    def function_name(self, prefix: str) -> str:
        return deployed_name(self.consumer, prefix)

    def dead_letter_queue(self, prefix: str) -> str:
        return QUEUE_OF_TOPIC[self.topic].dlq_name(prefix)


ROUTES: tuple[InvokeRoute, ...] = tuple(InvokeRoute(q.topic, q.consumer) for q in QUEUE_OF_TOPIC.values())
ROUTE_OF_TOPIC: Mapping[str, InvokeRoute] = {r.topic: r for r in ROUTES}


class BadInvokeEventError(CoinswarmError, ValueError):
    """The event is not an invocation envelope; the text says what is wrong (never the event itself)."""


@dataclass(frozen=True, slots=True)
class InvokeEnvelope:
    topic: str
    cycle_id: str
    body: str  # the message's JSON text, for `decode` (the same text an SQS body holds)


def payload(topic: str, message: Message) -> bytes:
    """The event of one invocation: the topic, the cycle id and the message."""
    head = json.dumps({"topic": topic, "cycle_id": message.cycle_id})
    return f'{head[:-1]}, "message": {encode(message)}}}'.encode()


def read_event(event: object) -> InvokeEnvelope:
    """The envelope of a direct invocation (Lambda hands the handler the payload parsed from JSON);
    BadInvokeEventError when it is not one. The message itself is validated by `decode` afterwards."""
    if not isinstance(event, dict):
        raise BadInvokeEventError(f"the event must be a JSON object, not {type(event).__name__}")
    missing = [k for k in ENVELOPE_FIELDS if k not in event]
    if missing:
        raise BadInvokeEventError(f"the event lacks {', '.join(missing)} (fields: {', '.join(ENVELOPE_FIELDS)})")
    extra = sorted(str(k)[:32] for k in set(event) - set(ENVELOPE_FIELDS))
    if extra:
        raise BadInvokeEventError(f"unknown field(s) in the event: {', '.join(extra[:5])}")
    topic, cycle_id, message = event["topic"], event["cycle_id"], event["message"]
    if not isinstance(topic, str) or not isinstance(cycle_id, str):
        raise BadInvokeEventError("topic and cycle_id must be strings")
    if not isinstance(message, dict):
        raise BadInvokeEventError("message must be a JSON object")
    try:
        body = json.dumps(message, allow_nan=False)
    except ValueError:
        raise BadInvokeEventError("message holds a number JSON does not allow (NaN or Infinity)") from None
    return InvokeEnvelope(topic, cycle_id, body)


class LambdaInvokeBus(Bus):
    def __init__(self, client: Any, *, prefix: str, function_names: Mapping[str, str] | None = None) -> None:
        """`function_names` overrides a topic's consumer name (by default `deployed_name(consumer, prefix)`)."""
        self.client = client
        self.prefix = prefix
        self._names = {r.topic: r.function_name(prefix) for r in ROUTES} | dict(function_names or {})
        self._lock = threading.Lock()
        self.sent = 0

    @classmethod
    def from_settings(cls, settings: Any) -> LambdaInvokeBus:
        """A Lambda client for `settings.aws` (region, endpoint), retrying throttles and 5xx answers."""
        from botocore.config import Config

        aws = settings.aws
        client = boto3.client(
            "lambda",
            region_name=aws.region,
            endpoint_url=aws.endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=2, read_timeout=10),
        )
        return cls(client, prefix=aws.table_prefix)

    def function_name(self, topic: str) -> str:
        name = self._names.get(topic)
        if name is None:
            raise PermanentBusError(
                f"no function consumes topic {topic!r} on AWS; the chain's topics: {', '.join(ROUTE_OF_TOPIC)}"
            )
        return name

    def subscribe(self, topic: str, handler: Handler) -> None:
        route = ROUTE_OF_TOPIC.get(topic)
        consumer = route.consumer if route else "nothing"
        raise NotImplementedError(
            f"on AWS a topic is consumed by the Lambda function it invokes ({topic!r} -> {consumer}), "
            "not by a handler subscribed in this process"
        )

    def publish(self, topic: str, message: Message) -> None:
        if topic in TERMINAL:
            return
        name = self.function_name(topic)
        event = payload(topic, message)
        what = f"{type(message).__name__} ({topic}, cycle {message.cycle_id}) to {name}"
        if len(event) > MAX_PAYLOAD_BYTES:
            raise PermanentBusError(f"{what}: {len(event):,} bytes exceed an asynchronous invocation's 256 KiB")
        try:
            answer = self.client.invoke(FunctionName=name, InvocationType="Event", Payload=event)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, text = str(error.get("Code", "")), str(error.get("Message", ""))[:300]
            if code in _PERMANENT:
                raise PermanentBusError(
                    f"{what}: refused ({code}: {text}); check that the function is deployed under this name "
                    "(aws.table_prefix) and that this function may invoke it"
                ) from None
            raise TransientBusError(f"{what}: failed after the SDK's retries ({code}: {text})") from None
        except BotoCoreError as exc:
            raise TransientBusError(f"{what}: could not reach Lambda ({type(exc).__name__})") from None
        status = answer.get("StatusCode")
        if status != 202:
            raise TransientBusError(f"{what}: Lambda answered {status}, not 202 (queued)")
        with self._lock:
            self.sent += 1


def configure_async_invocation(lambda_client: Any, sqs_client: Any, prefix: str) -> dict[str, str]:
    """Give each consumer the asynchronous invocation the Terraform gives it (for tests and a first deploy
    without Terraform; the functions and the dead-letter queues, `sqs_bus.create_queues`, must exist):
    `ASYNC_RETRIES` retries, events kept at most `MAX_EVENT_AGE_S`, failures sent to the topic's
    dead-letter queue. Idempotent. Returns the on-failure destination (a queue ARN) of each function."""
    destinations: dict[str, str] = {}
    for route in ROUTES:
        url = sqs_client.get_queue_url(QueueName=route.dead_letter_queue(prefix))["QueueUrl"]
        arn = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        name = route.function_name(prefix)
        lambda_client.put_function_event_invoke_config(
            FunctionName=name,
            MaximumRetryAttempts=ASYNC_RETRIES,
            MaximumEventAgeInSeconds=MAX_EVENT_AGE_S,
            DestinationConfig={"OnFailure": {"Destination": arn}},
        )
        destinations[name] = arn
    return destinations
