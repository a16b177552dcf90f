"""At-least-once delivery on AWS: a decision delivered fifty times, on an SQS queue or as an asynchronous
invocation, places one order and records one fill; a record that cannot be read fails alone, comes back,
and ends in the dead-letter queue."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from coinswarm.adapters.sqs_bus import QUEUE_OF_TOPIC, SqsBus
from coinswarm.domain.models import FillRecorded
from coinswarm.stages.messages import CANDLES, DECISIONS, PLACEMENTS, SCORES, DecisionReady, PlacementDone, decode
from conftest import STAGE_HANDLERS, SYMBOLS, TF, VENUE_SECRET, LambdaContext
from decisions import buy_decision
from functions.agent_scoring import aws as agent_scoring
from functions.committee_vote import aws as committee_vote
from functions.order_placement import aws as order_placement
from functions.tick_ingest import aws as tick_ingest
from functions.trade_logging import aws as trade_logging

NO_COMMITTEE_TRADES = {"threshold": 1.0, "quorum": 3}  # only the test's own intent trades


def a_buy(mesh, ts: int) -> DecisionReady:
    close = mesh.app.state.recent_candles("BTC-USD", TF, 1)[-1].close
    return buy_decision(
        "BTC-USD",
        f"cycle-{ts}",
        ts,
        decision_id=f"BTC-USD-{ts}",
        intent_id=f"cs-BTC-USD-{ts}-b",
        notional=500.0,
        price=close,
    )


@pytest.mark.parametrize("redelivery", ["the same record in 50 batches", "50 copies in one batch"])
def test_an_order_delivered_50_times_is_placed_once_and_filled_once(make_mesh, redelivery: str) -> None:
    mesh = make_mesh(committee=NO_COMMITTEE_TRADES)
    t0 = mesh.now - 5 * TF
    mesh.cycle(t0)
    decision = a_buy(mesh, t0)
    intent_id = decision.steps[0].intent.intent_id
    bus = SqsBus(mesh.sqs, prefix=mesh.prefix)
    if redelivery == "the same record in 50 batches":
        bus.publish(DECISIONS, decision)
        event = mesh.sqs_event(DECISIONS, mesh.receive(DECISIONS))
        for _ in range(50):
            assert order_placement.handler(event, LambdaContext()) == {"batchItemFailures": []}
    else:
        for _ in range(50):
            bus.publish(DECISIONS, decision)
        copies = mesh.receive(DECISIONS, most=50)
        assert len(copies) == 50 and len({m["MessageId"] for m in copies}) == 50
        assert order_placement.handler(mesh.sqs_event(DECISIONS, copies), LambdaContext()) == {"batchItemFailures": []}
    assert mesh.broker.submitted == [intent_id]
    assert [o.client_order_id for o in mesh.broker.inner.pending("BTC-USD")] == [intent_id]
    # the order is placed, not filled yet: its PlacementDone has nothing for the ledger and is not handed on
    assert mesh.depth(PLACEMENTS) == 0

    # the next cycle settles the order: only BTC-USD's PlacementDone carries a fill; it arrives three times
    t1 = t0 + TF
    tick_ingest.handler(mesh.scheduler_event(t1), LambdaContext())
    for topic, module in ((CANDLES, agent_scoring), (SCORES, committee_vote), (DECISIONS, order_placement)):
        assert mesh.deliver(topic, module.handler).failed == []
    done = mesh.sqs_event(PLACEMENTS, mesh.receive(PLACEMENTS))
    assert [decode(PlacementDone, r["body"]).symbol for r in done["Records"]] == ["BTC-USD"]
    for _ in range(3):
        assert trade_logging.handler(done, LambdaContext()) == {"batchItemFailures": []}

    fills = [e.payload.fill for e in mesh.app.ledger.events() if isinstance(e.payload, FillRecorded)]
    assert [f.client_order_id for f in fills] == [intent_id]
    assert mesh.broker.submitted == [intent_id]
    assert mesh.app.ledger.verify().ok
    assert mesh.app.ledger.portfolio().quantity("BTC-USD") == pytest.approx(fills[0].quantity)


def test_a_malformed_record_fails_alone_and_moves_to_the_dead_letter_queue(make_mesh, logs) -> None:
    mesh = make_mesh()
    ts = mesh.now - 3 * TF
    tick_ingest.handler(mesh.scheduler_event(ts), LambdaContext())
    url = mesh.urls[CANDLES]
    attributes = {"cycle_id": {"DataType": "String", "StringValue": f"cycle-{ts}"}}
    bad = {
        mesh.sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)["MessageId"]
        for body in (
            '{"cycle_id": "cycle-1", "symbol": ',  # cut short: not JSON
            json.dumps({"cycle_id": f"cycle-{ts}", "symbol": "BTC-USD", "candles": [], "key": VENUE_SECRET}),
        )
    }
    messages = mesh.receive(CANDLES)
    assert len(messages) == len(SYMBOLS) + 2

    response = agent_scoring.handler(mesh.sqs_event(CANDLES, messages), LambdaContext())
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == bad
    assert mesh.depth(SCORES) == len(SYMBOLS)  # the good records went on
    for m in messages:
        if m["MessageId"] not in bad:
            mesh.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    # Each time its visibility timeout runs out (at once, here) the record comes back and fails again;
    # after max_receive_count receives SQS moves it to the dead-letter queue instead.
    receives, held = 1, [m["ReceiptHandle"] for m in messages if m["MessageId"] in bad]
    while True:
        for handle in held:
            mesh.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        if not (again := mesh.receive(CANDLES)):
            break
        assert {m["MessageId"] for m in again} == bad
        response = agent_scoring.handler(mesh.sqs_event(CANDLES, again), LambdaContext())
        assert len(response["batchItemFailures"]) == 2
        receives, held = receives + 1, [m["ReceiptHandle"] for m in again]
    assert receives == QUEUE_OF_TOPIC[CANDLES].max_receive_count
    assert {m["MessageId"] for m in mesh.receive(CANDLES, dlq=True)} == bad

    failures = [line for line in logs() if line["level"] == "WARNING"]
    assert len(failures) == 2 * receives
    assert all(line["correlation_id"] == f"cycle-{ts}" for line in failures)
    assert all("ValidationError" in line["exception"] for line in failures)
    assert any("input_value='***'" in line["exception"] for line in failures)  # the secret was there, redacted
    assert VENUE_SECRET not in json.dumps(logs())


@pytest.mark.parametrize("redelivery", ["50 times in a row", "50 at once, the refused retried"])
def test_an_invocation_delivered_50_times_places_once_and_fills_once(
    make_mesh, invoked_lambdas, redelivery: str
) -> None:
    """Lambda's asynchronous queue delivers at least once and retries a failed invocation: the same event,
    as moto received it from committee_vote's bus, reaches order_placement fifty times."""
    mesh = make_mesh(committee=NO_COMMITTEE_TRADES, deploy={"chain": "invoke"})
    lam = invoked_lambdas(mesh)
    t0 = mesh.now - 5 * TF
    tick_ingest.handler(mesh.scheduler_event(t0), LambdaContext())
    assert lam.run(STAGE_HANDLERS)["order_placement"] == len(SYMBOLS)
    decision = a_buy(mesh, t0)
    intent_id = decision.steps[0].intent.intent_id
    committee_vote.function.bus().publish(DECISIONS, decision)
    [invocation] = lam.queue
    lam.queue.clear()
    assert invocation.function == f"{mesh.prefix}-order-placement"
    event = json.loads(invocation.event)

    if redelivery == "50 times in a row":
        answers = [order_placement.handler(event, LambdaContext()) for _ in range(50)]
        assert answers == [{"cycle_id": f"cycle-{t0}", "published": []}] * 50
    else:
        barrier = threading.Barrier(50)

        def deliver() -> str:
            barrier.wait()
            try:
                order_placement.handler(event, LambdaContext())
                return "ok"
            except IdempotencyAlreadyInProgressError:  # the invocation fails: Lambda retries it later
                return "retry"

        with ThreadPoolExecutor(50) as pool:
            outcomes = list(pool.map(lambda _: deliver(), range(50)))
        assert outcomes.count("ok") >= 1, outcomes
        for _ in range(outcomes.count("retry")):  # Lambda's retries, once the first run is done
            assert order_placement.handler(event, LambdaContext())["published"] == []
    assert mesh.broker.submitted == [intent_id]
    assert [o.client_order_id for o in mesh.broker.inner.pending("BTC-USD")] == [intent_id]
    assert lam.queue == []  # placed, not filled: nothing for trade_logging yet

    # the next cycle settles the order; trade_logging is invoked for BTC-USD's fill alone, fifty times over
    tick_ingest.handler(mesh.scheduler_event(t0 + TF), LambdaContext())

    def logged_50_times(event: dict, context: object) -> None:
        for _ in range(50):
            trade_logging.handler(event, context)

    ran = lam.run({**STAGE_HANDLERS, "trade_logging": logged_50_times})
    assert ran["trade_logging"] == 1
    fills = [e.payload.fill for e in mesh.app.ledger.events() if isinstance(e.payload, FillRecorded)]
    assert [f.client_order_id for f in fills] == [intent_id]
    assert mesh.broker.submitted == [intent_id]
    assert mesh.app.ledger.verify().ok
    assert mesh.app.ledger.portfolio().quantity("BTC-USD") == pytest.approx(fills[0].quantity)
