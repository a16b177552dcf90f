"""SqsBus and its queues, on the moto server: what the Terraform mirrors, and what a publish sends."""

from __future__ import annotations

import json
import uuid

import pytest

from coinswarm.adapters.sqs_bus import QUEUES, SqsBus, create_queues
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle
from coinswarm.stages.messages import CANDLES, DECISIONS, LOGGED, TICK, CandlesReady, TradesLogged, decode
from servers.moto import aws_client


@pytest.fixture
def sqs(moto_server):
    client = aws_client("sqs", moto_server)
    prefix = f"bus{uuid.uuid4().hex[:8]}"
    urls = create_queues(client, prefix)
    yield client, prefix, urls
    for q in QUEUES:
        for name in (q.name(prefix), q.dlq_name(prefix)):
            client.delete_queue(QueueUrl=client.get_queue_url(QueueName=name)["QueueUrl"])
    client.close()


def candles_ready(cycle: str = "cycle-1700000060") -> CandlesReady:
    candle = Candle(symbol="BTC-USD", ts=1_700_000_000, open=100, high=101, low=99, close=100.5, volume=3)
    return CandlesReady(cycle_id=cycle, symbol="BTC-USD", candles=(candle,))


def queue_lookups(client) -> list[str]:
    """The queue names the client looks up from now on (GetQueueUrl calls)."""
    names: list[str] = []
    client.meta.events.register(
        "provide-client-params.sqs.GetQueueUrl", lambda params, **_: names.append(params["QueueName"])
    )
    return names


def test_every_stage_queue_has_a_dead_letter_queue_after_five_receives(sqs) -> None:
    client, prefix, urls = sqs
    assert [q.topic for q in QUEUES] == ["candles", "scores", "decisions", "placements"]
    assert [q.consumer for q in QUEUES] == ["agent_scoring", "committee_vote", "order_placement", "trade_logging"]
    for q in QUEUES:
        attributes = client.get_queue_attributes(QueueUrl=urls[q.topic], AttributeNames=["All"])["Attributes"]
        dlq_url = client.get_queue_url(QueueName=q.dlq_name(prefix))["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
        assert attributes["VisibilityTimeout"] == "180" and attributes["QueueArn"].endswith(f":{prefix}-{q.topic}")
    assert create_queues(client, prefix) == urls  # a second deploy changes nothing


def test_publish_sends_the_json_with_the_cycle_and_topic_and_looks_each_queue_up_once(sqs) -> None:
    client, prefix, urls = sqs
    lookups = queue_lookups(client)
    bus = SqsBus(client, prefix=prefix)
    message = candles_ready()
    bus.publish(CANDLES, message)
    bus.publish(CANDLES, candles_ready("cycle-1700000120"))
    assert lookups == [f"{prefix}-candles"]
    got = client.receive_message(QueueUrl=urls[CANDLES], MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    first, second = got["Messages"]
    assert decode(CandlesReady, first["Body"]) == message
    assert {k: v["StringValue"] for k, v in first["MessageAttributes"].items()} == {
        "cycle_id": "cycle-1700000060",
        "topic": "candles",
    }
    assert decode(CandlesReady, second["Body"]).cycle_id == "cycle-1700000120"


def test_queue_urls_set_by_the_deployment_need_no_lookup(sqs) -> None:
    client, prefix, urls = sqs
    lookups = queue_lookups(client)
    settings = Settings.model_validate({"aws": {"table_prefix": prefix}})
    built = SqsBus.from_settings(settings, environ={"COINSWARM_QUEUE_URL_DECISIONS": urls[DECISIONS]})
    assert built.queue_url(DECISIONS) == urls[DECISIONS] and built.prefix == prefix
    bus = SqsBus(client, prefix=prefix, queue_urls={DECISIONS: urls[DECISIONS]})
    assert bus.queue_url(DECISIONS) == urls[DECISIONS] and lookups == []


def test_what_no_queue_carries(sqs) -> None:
    client, prefix, _ = sqs
    bus = SqsBus(client, prefix=prefix)
    bus.publish(LOGGED, TradesLogged(cycle_id="c", symbol="BTC-USD", appended=1, duplicates=0, seq=2))
    assert bus.sent == 0  # the end of the cycle: nothing consumes it
    with pytest.raises(ValueError, match="no queue carries topic 'tick'"):
        bus.publish(TICK, candles_ready())
    with pytest.raises(NotImplementedError, match="event source mapping"):
        bus.subscribe(CANDLES, lambda body: [])
    huge = candles_ready()
    huge = CandlesReady(cycle_id=huge.cycle_id, symbol=huge.symbol, candles=huge.candles, gaps=("x" * 300_000,))
    with pytest.raises(ValueError, match="exceeds SQS's 256 KiB"):
        bus.publish(CANDLES, huge)
