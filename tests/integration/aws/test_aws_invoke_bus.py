"""LambdaInvokeBus on the moto server: each message invokes its consumer, deployed under its name,
asynchronously, and the event moto received is the envelope the consumer's entry point reads back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aws_helpers import AsyncLambda

from coinswarm.adapters.lambda_invoke_bus import (
    ASYNC_RETRIES,
    MAX_EVENT_AGE_S,
    MAX_PAYLOAD_BYTES,
    ROUTES,
    BadInvokeEventError,
    LambdaInvokeBus,
    configure_async_invocation,
    payload,
    read_event,
)
from coinswarm.adapters.sqs_bus import QUEUES, create_queues
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle
from coinswarm.errors import PermanentBusError
from coinswarm.stages.messages import CANDLES, DECISIONS, LOGGED, PLACEMENTS, SCORES, CandlesReady, TradesLogged, decode
from servers.moto import aws_client


def candles_ready(cycle: str = "cycle-1700000060", n: int = 1) -> CandlesReady:
    candles = tuple(
        Candle(symbol="BTC-USD", ts=1_700_000_000 + 60 * i, open=100, high=101, low=99, close=100.5, volume=3)
        for i in range(n)
    )
    return CandlesReady(cycle_id=cycle, symbol="BTC-USD", candles=candles)


@pytest.fixture
def deployed(lambda_simple: str) -> Iterator[AsyncLambda]:
    lam = AsyncLambda(lambda_simple, f"inv{uuid.uuid4().hex[:8]}")
    yield lam
    lam.drop()


def test_the_chain_invokes_each_topics_consumer_under_its_deployed_name() -> None:
    assert [(r.topic, r.consumer) for r in ROUTES] == [
        (CANDLES, "agent_scoring"),
        (SCORES, "committee_vote"),
        (DECISIONS, "order_placement"),
        (PLACEMENTS, "trade_logging"),
    ]
    assert [r.function_name("bot1") for r in ROUTES] == [
        "bot1-agent-scoring",
        "bot1-committee-vote",
        "bot1-order-placement",
        "bot1-trade-logging",
    ]
    assert [r.dead_letter_queue("bot1") for r in ROUTES] == [
        "bot1-candles-dlq",
        "bot1-scores-dlq",
        "bot1-decisions-dlq",
        "bot1-placements-dlq",
    ]


def test_publish_invokes_the_consumer_asynchronously_with_the_envelope_moto_receives(deployed: AsyncLambda) -> None:
    lam = deployed
    bus = LambdaInvokeBus(lam.client, prefix=lam.prefix)
    lam.watch(lam.client)
    message = candles_ready()
    bus.publish(CANDLES, message)
    bus.publish(LOGGED, TradesLogged(cycle_id="cycle-1700000060", symbol="BTC-USD", appended=1, duplicates=0, seq=2))
    assert bus.sent == 1  # the end of the cycle is consumed by nothing: not sent
    [invocation] = lam.queue
    assert invocation.status == 202  # queued by Lambda, not run while the producer waits
    assert invocation.function == f"{lam.prefix}-agent-scoring"
    assert lam.client.get_function(FunctionName=invocation.function)["Configuration"]["FunctionName"] == (
        invocation.function
    )
    assert invocation.event == payload(CANDLES, message)  # what moto received is what the bus sent
    event = json.loads(invocation.event)
    assert set(event) == {"topic", "cycle_id", "message"}
    assert (event["topic"], event["cycle_id"]) == (CANDLES, "cycle-1700000060")
    envelope = read_event(event)  # as the consumer's entry point reads its event
    assert (envelope.topic, envelope.cycle_id) == (CANDLES, "cycle-1700000060")
    assert decode(CandlesReady, envelope.body) == message


def test_each_consumer_retries_twice_then_sends_the_event_to_its_topics_dead_letter_queue(
    deployed: AsyncLambda,
) -> None:
    lam = deployed
    sqs = aws_client("sqs", lam.client.meta.endpoint_url)
    create_queues(sqs, lam.prefix)
    try:
        destinations = configure_async_invocation(lam.client, sqs, lam.prefix)
        assert sorted(destinations) == sorted(lam.functions)
        for route in ROUTES:
            config = lam.client.get_function_event_invoke_config(FunctionName=route.function_name(lam.prefix))
            dlq = destinations[route.function_name(lam.prefix)]
            assert dlq.endswith(f":{lam.prefix}-{route.topic}-dlq")
            assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 21_600)
            assert config["DestinationConfig"]["OnFailure"]["Destination"] == dlq
        assert (ASYNC_RETRIES, MAX_EVENT_AGE_S) == (2, 21_600)  # Lambda's most: two retries, six hours
    finally:
        for q in QUEUES:
            for name in (q.name(lam.prefix), q.dlq_name(lam.prefix)):
                sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        sqs.close()


def test_built_from_the_settings_it_names_the_functions_by_the_table_prefix(deployed: AsyncLambda) -> None:
    settings = Settings.model_validate(
        {"aws": {"region": "us-east-1", "endpoint_url": deployed.client.meta.endpoint_url, "table_prefix": "bot1"}}
    )
    bus = LambdaInvokeBus.from_settings(settings)
    assert bus.prefix == "bot1" and bus.function_name(DECISIONS) == "bot1-order-placement"
    assert bus.client.meta.region_name == "us-east-1"
    bus.client.close()


def test_what_cannot_be_sent_is_refused_before_lambda_is_asked(deployed: AsyncLambda) -> None:
    lam = deployed
    bus = LambdaInvokeBus(lam.client, prefix=lam.prefix)
    lam.watch(lam.client)
    with pytest.raises(PermanentBusError, match="no function consumes topic 'tick'"):
        bus.publish("tick", candles_ready())
    huge = candles_ready(n=2_500)
    assert len(payload(CANDLES, huge)) > MAX_PAYLOAD_BYTES
    with pytest.raises(PermanentBusError, match="exceed an asynchronous invocation's 256 KiB"):
        bus.publish(CANDLES, huge)
    with pytest.raises(NotImplementedError, match="consumed by the Lambda function it invokes"):
        bus.subscribe(CANDLES, lambda body: [])
    assert lam.queue == [] and bus.sent == 0


def test_a_function_that_is_not_deployed_is_a_permanent_error_naming_it(moto_server: str) -> None:
    # moto's default Lambda (not lambda-simple) looks the function up as Lambda does
    client = aws_client("lambda", moto_server)
    bus = LambdaInvokeBus(client, prefix=f"none{uuid.uuid4().hex[:6]}")
    with pytest.raises(PermanentBusError, match=rf"{bus.prefix}-agent-scoring: refused \(ResourceNotFoundException"):
        bus.publish(CANDLES, candles_ready())
    client.close()


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ([1, 2], "must be a JSON object, not list"),
        ({"Records": []}, "lacks topic, cycle_id, message"),
        ({"topic": "candles", "cycle_id": "c", "message": {}, "push_id": "x"}, r"unknown field\(s\) in the event"),
        ({"topic": 1, "cycle_id": "c", "message": {}}, "topic and cycle_id must be strings"),
        ({"topic": "candles", "cycle_id": "c", "message": "{}"}, "message must be a JSON object"),
        ({"topic": "candles", "cycle_id": "c", "message": {"x": float("nan")}}, "NaN or Infinity"),
    ],
)
def test_an_event_that_is_not_an_envelope_is_refused_saying_why(event: Any, says: str) -> None:
    with pytest.raises(BadInvokeEventError, match=says):
        read_event(event)
