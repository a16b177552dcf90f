"""At-least-once delivery on AWS: a decision delivered fifty times, on an SQS queue or as an asynchronous
invocation, places one order and records one fill; fifty at once, one runs while the others are refused
(the invocation fails, Lambda retries it) and their retries hand on the same placement; an invocation
killed after the broker accepted leaves its claims in progress, the duplicates meanwhile are refused, and
Lambda's retry a minute later reconciles by client order id. A record that cannot be read fails alone,
comes back, and ends in the dead-letter queue; a record refused as in progress comes back too."""

from __future__ import annotations

import datetime as dt
import json
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aws_helpers import STAGE_HANDLERS, SYMBOLS, TF, VENUE_SECRET, LambdaContext
from aws_lambda_powertools.utilities.idempotency import base as idempotency_base
from aws_lambda_powertools.utilities.idempotency.persistence import base as persistence_base
from aws_lambda_powertools.utilities.idempotency.persistence import datarecord, dynamodb

from coinswarm.adapters.lambda_invoke_bus import ASYNC_RETRY_DELAYS_S
from coinswarm.adapters.sqs_bus import QUEUE_OF_TOPIC, SqsBus
from coinswarm.domain.models import FillRecorded
from coinswarm.errors import ClaimInProgressError
from coinswarm.ports.clock import Clock
from coinswarm.stages.messages import CANDLES, DECISIONS, PLACEMENTS, SCORES, DecisionReady, PlacementDone, decode
from coinswarm.stages.outbox import IN_PROGRESS_TTL_S
from decisions import buy_decision, hold_decision
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
            except ClaimInProgressError:  # the invocation fails: Lambda retries it later
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


class Later:
    """Time moved on by `set(seconds)`, for the stages' clock and for powertools' idempotency records
    (which read the wall clock): what Lambda's retry a minute later sees."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
        # Time stands still but for `set`: a loaded machine's own seconds must not expire a claim the
        # test holds one second short of its end.
        self.offset_s = 0
        base = clock.now()
        monkeypatch.setattr(clock, "now", lambda: base + self.offset_s)
        later = self
        base_utc = dt.datetime.now(dt.UTC)

        class Shifted(dt.datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                moment = base_utc + dt.timedelta(seconds=later.offset_s)
                return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)

        shim = types.SimpleNamespace(datetime=Shifted, timedelta=dt.timedelta, timezone=dt.timezone)
        for module in (idempotency_base, persistence_base, datarecord, dynamodb):
            monkeypatch.setattr(module, "dt", shim)

    def set(self, seconds: int) -> None:
        self.offset_s = seconds


def order_placement_event(mesh: Any, lam: Any, decision: DecisionReady) -> dict[str, Any]:
    """The event committee_vote's bus invoked order_placement with, as moto received it."""
    committee_vote.function.bus().publish(DECISIONS, decision)
    [invocation] = lam.queue
    lam.queue.clear()
    assert invocation.function == f"{mesh.prefix}-order-placement"
    event: dict[str, Any] = json.loads(invocation.event)
    return event


def test_an_invocation_killed_after_the_broker_accepted_is_refused_until_lambdas_retry_reconciles_it(
    make_mesh, invoked_lambdas, logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    mesh = make_mesh(committee=NO_COMMITTEE_TRADES, deploy={"chain": "invoke"})
    lam = invoked_lambdas(mesh)
    t0 = mesh.now - 5 * TF
    tick_ingest.handler(mesh.scheduler_event(t0), LambdaContext())
    lam.run(STAGE_HANDLERS)
    decision = a_buy(mesh, t0)
    intent_id = decision.steps[0].intent.intent_id
    event = order_placement_event(mesh, lam, decision)
    later = Later(monkeypatch, mesh.app.clock)
    paper, coordination = mesh.broker.inner, mesh.app.coordination
    real_submit = paper.submit

    def submit_then_die(order: Any) -> Any:
        real_submit(order)  # the venue has it ...
        raise SystemExit("the invocation was killed before it completed its claims")  # ... and it dies

    paper.submit = submit_then_die
    coordination.abandon = lambda *a, **k: None  # killed outright: no `finally` of ours runs
    with pytest.raises(SystemExit):
        order_placement.handler(event, LambdaContext())
    del paper.submit, coordination.abandon
    assert mesh.broker.submitted == [intent_id]

    # duplicates from Lambda's at-least-once queue while the killed invocation's claims hold: powertools'
    # record (until the invocation's timeout, 30 s), then the message's claim (10 s longer): each refused
    for after in (1, 20, IN_PROGRESS_TTL_S - 1):
        later.set(after)
        with pytest.raises(ClaimInProgressError):
            order_placement.handler(event, LambdaContext())
    assert mesh.broker.submitted == [intent_id] and lam.queue == []
    refusals = [line for line in logs() if "another delivery holds this claim" in line["message"]]
    assert len(refusals) == 3 and {line["level"] for line in refusals} == {"WARNING"}
    assert all("Lambda retries the invocation" in line["message"] and "exception" not in line for line in refusals)

    # Lambda's first retry of the killed invocation, a minute after it failed: both claims expired
    later.set(ASYNC_RETRY_DELAYS_S[0])
    assert order_placement.handler(event, LambdaContext())["cycle_id"] == f"cycle-{t0}"
    assert mesh.broker.submitted == [intent_id]  # nothing sent again
    claim = coordination.begin(f"order:{intent_id}", owner="probe", now=mesh.app.clock.now(), in_progress_ttl_s=1)
    assert claim is not None and claim.result is not None and claim.result["note"].startswith("reconciled")
    # the retry settles what is pending at the step's price before placing: the dead invocation's order
    # fills, and the PlacementDone that carries the fill goes to trade logging with the next cycle's
    assert [i.function for i in lam.queue] == [f"{mesh.prefix}-trade-logging"]
    tick_ingest.handler(mesh.scheduler_event(t0 + TF), LambdaContext())
    assert lam.run(STAGE_HANDLERS)["trade_logging"] == 1
    fills = [e.payload.fill for e in mesh.app.ledger.events() if isinstance(e.payload, FillRecorded)]
    assert [f.client_order_id for f in fills] == [intent_id]
    assert mesh.app.ledger.verify().ok


def test_fifty_invocations_at_once_one_runs_the_others_are_refused_and_their_retries_hand_on_the_same_fill(
    make_mesh, invoked_lambdas
) -> None:
    """The decision that settles a placed order, invoked fifty times at once: one invocation runs (and
    fills the order) while the 49 others are refused; Lambda's retries of those each hand on the same
    PlacementDone, and trade logging appends its fill once."""
    mesh = make_mesh(committee=NO_COMMITTEE_TRADES, deploy={"chain": "invoke"})
    lam = invoked_lambdas(mesh)
    t0 = mesh.now - 5 * TF
    tick_ingest.handler(mesh.scheduler_event(t0), LambdaContext())
    lam.run(STAGE_HANDLERS)
    decision = a_buy(mesh, t0)
    intent_id = decision.steps[0].intent.intent_id
    order_placement.handler(order_placement_event(mesh, lam, decision), LambdaContext())
    settle = hold_decision("BTC-USD", f"cycle-{t0 + TF}", t0 + TF, price=decision.steps[0].mark_price * 1.01)
    event = order_placement_event(mesh, lam, settle)

    refused: list[ClaimInProgressError] = []
    all_refused = threading.Event()
    paper = mesh.broker.inner
    real_settle = paper.settle

    def settle_once_the_others_were_refused(*args: Any) -> Any:
        assert all_refused.wait(120), f"only {len(refused)} of 49 invocations were refused"
        return real_settle(*args)

    barrier = threading.Barrier(50)

    def invoke() -> str:
        barrier.wait()
        try:
            order_placement.handler(event, LambdaContext())
            return "ran"
        except ClaimInProgressError as exc:  # the invocation fails: Lambda retries it
            refused.append(exc)
            if len(refused) == 49:
                all_refused.set()
            return "refused"

    paper.settle = settle_once_the_others_were_refused
    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(lambda _: invoke(), range(50)))
    del paper.settle
    assert sorted(set(outcomes)) == ["ran", "refused"] and outcomes.count("ran") == 1
    [first] = lam.queue  # the one that ran handed the fill on
    assert first.function == f"{mesh.prefix}-trade-logging"
    for _ in refused:  # Lambda's retries of the refused, once the first is done
        assert order_placement.handler(event, LambdaContext())["published"] == [PLACEMENTS]
    assert len(lam.queue) == 50 and {i.event for i in lam.queue} == {first.event}  # the same PlacementDone
    assert lam.run(STAGE_HANDLERS)["trade_logging"] == 50
    fills = [e.payload.fill for e in mesh.app.ledger.events() if isinstance(e.payload, FillRecorded)]
    assert [f.client_order_id for f in fills] == [intent_id]
    assert mesh.broker.submitted == [intent_id]
    assert mesh.app.ledger.verify().ok


def test_a_record_refused_as_in_progress_is_a_batch_item_failure_logged_as_a_warning(make_mesh, logs) -> None:
    """On the queue chain, a duplicate record that meets its message's claim in progress is reported in
    `batchItemFailures` (SQS delivers it again after its visibility timeout), the rest of the batch done."""
    mesh = make_mesh(committee=NO_COMMITTEE_TRADES)
    t0 = mesh.now - 5 * TF
    mesh.cycle(t0)
    decision = a_buy(mesh, t0)
    bus = SqsBus(mesh.sqs, prefix=mesh.prefix)
    bus.publish(DECISIONS, decision)
    bus.publish(DECISIONS, decision)
    records = mesh.receive(DECISIONS)
    assert len(records) == 2
    first, second = (mesh.sqs_event(DECISIONS, [r]) for r in records)
    paper = mesh.broker.inner
    real_submit = paper.submit
    answers: list[dict[str, Any]] = []

    def submit_while_the_duplicate_arrives(order: Any) -> Any:  # the second record meets the claim
        answers.append(order_placement.handler(second, LambdaContext()))
        return real_submit(order)

    paper.submit = submit_while_the_duplicate_arrives
    assert order_placement.handler(first, LambdaContext()) == {"batchItemFailures": []}
    del paper.submit
    assert answers == [{"batchItemFailures": [{"itemIdentifier": records[1]["MessageId"]}]}]
    refusals = [line for line in logs() if "another delivery holds this claim" in line["message"]]
    assert len(refusals) == 1 and refusals[0]["level"] == "WARNING" and "exception" not in refusals[0]
    assert "SQS redelivers the record" in refusals[0]["message"]
    assert not [line for line in logs() if line["level"] in ("WARNING", "ERROR") and "exception" in line]
    # the redelivery, after the visibility timeout: the kept result, nothing placed again
    assert order_placement.handler(second, LambdaContext()) == {"batchItemFailures": []}
    assert mesh.broker.submitted == [decision.steps[0].intent.intent_id]
