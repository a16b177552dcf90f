"""The bus on AWS: one SQS standard queue per topic a function consumes, each with a dead-letter queue.

Queue design (`QUEUES`, which the Terraform mirrors):

    {prefix}-candles    -> agent_scoring      {prefix}-candles-dlq
    {prefix}-scores     -> committee_vote     {prefix}-scores-dlq
    {prefix}-decisions  -> order_placement    {prefix}-decisions-dlq
    {prefix}-placements -> trade_logging      {prefix}-placements-dlq

`prefix` is `aws.table_prefix`. The tick has no queue (the schedule invokes tick_ingest directly) and
neither does `logged`, the end of a cycle, which nothing consumes. A message that fails
`max_receive_count` (5) times moves to its dead-letter queue, kept 14 days for a look. Each queue's
consumer is a Lambda event source mapping with `batch_size` records and `ReportBatchItemFailures`
on: without it Lambda would ignore the `batchItemFailures` the functions return and delete a failed
record with the rest of its batch.
Standard queues, not FIFO: every consumer is idempotent (scoring skips candles it has seen, placement
claims each intent once, the ledger appends each fill once), so a duplicate costs a little work, and a
FIFO queue's five-minute deduplication would not cover a redrive anyway.

A message travels as its JSON text (`encode`), with two string attributes, `cycle_id` and `topic`, so
that a consumer can log the cycle of a body it cannot parse. Queue URLs come from
`COINSWARM_QUEUE_URL_<TOPIC>` when the deployment sets them, else one GetQueueUrl per topic per
container, cached.

boto3 is imported here and nowhere else in the library; the client is injected (`from_settings`
builds one from the configuration).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from coinswarm.ports.bus import Bus, Handler
from coinswarm.stages.messages import CANDLES, DECISIONS, LOGGED, PLACEMENTS, SCORES, Message, encode

MAX_BODY_BYTES = 262_144  # SQS's limit on a message body
URL_ENV = "COINSWARM_QUEUE_URL_{}"


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One stage queue and its dead-letter queue.

    `visibility_timeout_s` is six times the consumer's Lambda timeout (30 s), as AWS advises for an SQS
    event source, so a batch still being worked on is not handed to a second instance."""

    topic: str
    consumer: str
    batch_size: int = 10
    visibility_timeout_s: int = 180
    retention_s: int = 345_600  # 4 days
    max_receive_count: int = 5
    dlq_retention_s: int = 1_209_600  # 14 days, the most SQS keeps

    def name(self, prefix: str) -> str:
        return f"{prefix}-{self.topic}"

    def dlq_name(self, prefix: str) -> str:
        return f"{prefix}-{self.topic}-dlq"


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec(CANDLES, "agent_scoring"),
    QueueSpec(SCORES, "committee_vote"),
    QueueSpec(DECISIONS, "order_placement"),
    QueueSpec(PLACEMENTS, "trade_logging"),
)
QUEUE_OF_TOPIC: Mapping[str, QueueSpec] = {q.topic: q for q in QUEUES}
TERMINAL = frozenset({LOGGED})  # published by the last stage; nothing consumes it, so no queue


class SqsBus(Bus):
    def __init__(self, client: Any, *, prefix: str, queue_urls: Mapping[str, str] | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self._urls: dict[str, str] = dict(queue_urls or {})
        self._lock = threading.Lock()
        self.sent = 0

    @classmethod
    def from_settings(cls, settings: Any, *, environ: Mapping[str, str] | None = None) -> SqsBus:
        """An SQS client for `settings.aws` (region, endpoint), and any queue URLs the deployment set."""
        from botocore.config import Config

        aws = settings.aws
        client = boto3.client(
            "sqs",
            region_name=aws.region,
            endpoint_url=aws.endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=2, read_timeout=10),
        )
        env = os.environ if environ is None else environ
        urls = {q.topic: url for q in QUEUES if (url := env.get(URL_ENV.format(q.topic.upper())))}
        return cls(client, prefix=aws.table_prefix, queue_urls=urls)

    def subscribe(self, topic: str, handler: Handler) -> None:
        spec = QUEUE_OF_TOPIC.get(topic)
        consumer = spec.consumer if spec else "nothing"
        raise NotImplementedError(
            f"on AWS a queue is consumed by its Lambda event source mapping ({topic!r} -> {consumer}), "
            "not by a handler subscribed in this process"
        )

    def publish(self, topic: str, message: Message) -> None:
        if topic in TERMINAL:
            return
        body = encode(message)
        if len(body.encode()) > MAX_BODY_BYTES:
            raise ValueError(f"a {type(message).__name__} of {len(body.encode()):,} bytes exceeds SQS's 256 KiB")
        self.client.send_message(
            QueueUrl=self.queue_url(topic),
            MessageBody=body,
            MessageAttributes={
                "cycle_id": {"DataType": "String", "StringValue": message.cycle_id},
                "topic": {"DataType": "String", "StringValue": topic},
            },
        )
        self.sent += 1

    def queue_url(self, topic: str) -> str:
        url = self._urls.get(topic)
        if url is None:
            if topic not in QUEUE_OF_TOPIC:
                raise ValueError(f"no queue carries topic {topic!r}; queues: {', '.join(QUEUE_OF_TOPIC)}")
            with self._lock:
                url = self._urls.get(topic)
                if url is None:
                    name = QUEUE_OF_TOPIC[topic].name(self.prefix)
                    url = self._urls[topic] = self.client.get_queue_url(QueueName=name)["QueueUrl"]
        return url


def create_queues(client: Any, prefix: str) -> dict[str, str]:
    """Create every stage queue with its dead-letter queue and redrive policy (for tests and a first
    deploy without Terraform); idempotent. Returns the queue URL of each topic."""
    urls: dict[str, str] = {}
    for spec in QUEUES:
        dlq_url = client.create_queue(
            QueueName=spec.dlq_name(prefix), Attributes={"MessageRetentionPeriod": str(spec.dlq_retention_s)}
        )["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        urls[spec.topic] = client.create_queue(
            QueueName=spec.name(prefix),
            Attributes={
                "VisibilityTimeout": str(spec.visibility_timeout_s),
                "MessageRetentionPeriod": str(spec.retention_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.max_receive_count)}
                ),
            },
        )["QueueUrl"]
    return urls
