"""The trading cycle on AWS chained by asynchronous invocations (`deploy.chain = "invoke"`): the schedule's
event starts it, each function invokes the next on moto's Lambda, and the event moto received is what the
next function's handler is given, down to the ledger. Nothing goes through SQS."""

from __future__ import annotations

import json

import pytest
from aws_helpers import STAGE_HANDLERS, SYMBOLS, TF, VENUE_KEY, VENUE_SECRET, LambdaContext

from coinswarm.adapters.lambda_invoke_bus import BadInvokeEventError
from coinswarm.domain.models import FillRecorded
from functions.agent_scoring import aws as agent_scoring
from functions.tick_ingest import aws as tick_ingest

INVOKE = {"chain": "invoke"}


def fills_of(mesh) -> list[FillRecorded]:
    return [e.payload for e in mesh.app.ledger.events() if isinstance(e.payload, FillRecorded)]


def test_cycles_flow_through_asynchronous_invocations_to_the_ledger(make_mesh, invoked_lambdas, logs) -> None:
    mesh = make_mesh(deploy=INVOKE)
    lam = invoked_lambdas(mesh)
    n = len(SYMBOLS)
    cycles: list[str] = []
    fills: list[FillRecorded] = []
    for ts in range(mesh.now - 10 * TF, mesh.now + 1, TF):
        assert tick_ingest.handler(mesh.scheduler_event(ts), LambdaContext())["published"] == n
        cycles.append(f"cycle-{ts}")
        before = len(fills)
        ran = lam.run(STAGE_HANDLERS)
        fills = fills_of(mesh)
        # one invocation per symbol at every hop, but trade_logging: only for a PlacementDone with a fill
        filled_symbols = {f.fill.symbol for f in fills[before:]}
        assert ran == {"agent_scoring": n, "committee_vote": n, "order_placement": n} | (
            {"trade_logging": len(filled_symbols)} if filled_symbols else {}
        )
        if fills:
            break
    assert fills, f"no order filled in {len(cycles)} cycles"
    assert [f.fill.client_order_id for f in fills] == mesh.broker.submitted[: len(fills)]
    assert mesh.app.ledger.verify().ok
    for topic in mesh.urls:  # the queue chain's queues exist here, and stayed empty
        assert mesh.depth(topic) == 0 and mesh.depth(topic, dlq=True) == 0, topic

    lines = logs()
    for line in lines:  # every line a function wrote names its cycle
        assert line["correlation_id"] in cycles, line
    assert {line["correlation_id"] for line in lines} == set(cycles)
    text = json.dumps(lines)
    assert VENUE_KEY not in text and VENUE_SECRET not in text


def test_an_event_that_cannot_be_handled_fails_the_invocation_saying_why(make_mesh, invoked_lambdas, logs) -> None:
    mesh = make_mesh(deploy=INVOKE)
    lam = invoked_lambdas(mesh)
    ts = mesh.now - 3 * TF
    tick_ingest.handler(mesh.scheduler_event(ts), LambdaContext())
    good = json.loads(lam.queue[0].event)  # a CandlesReady as agent_scoring receives it
    assert good["topic"] == "candles"
    cycle = f"cycle-{ts}"

    wrong_topic = {**good, "topic": "scores"}
    with pytest.raises(BadInvokeEventError, match="consumes 'candles', not 'scores': the invocation reached the wrong"):
        agent_scoring.handler(wrong_topic, LambdaContext())
    with pytest.raises(BadInvokeEventError, match="lacks topic, cycle_id, message"):
        agent_scoring.handler(mesh.scheduler_event(ts), LambdaContext())
    with_secret = {**good, "message": {**good["message"], "key": VENUE_SECRET}}
    malformed = r"the CandlesReady in the event is malformed \(1 error\(s\)\): key: Unexpected keyword"
    with pytest.raises(BadInvokeEventError, match=malformed) as bad:
        agent_scoring.handler(with_secret, LambdaContext())
    assert VENUE_SECRET not in str(bad.value)  # Lambda writes the error (and sends it to the dead-letter queue)
    cut = {**good, "message": {"cycle_id": cycle, "symbol": "BTC-USD"}}
    with pytest.raises(BadInvokeEventError, match="candles: Field required"):
        agent_scoring.handler(cut, LambdaContext())
    assert len(lam.queue) == len(SYMBOLS)  # only tick_ingest's own invocations: the failures handed nothing on

    failures = [line for line in logs() if line["level"] == "ERROR"]
    assert len(failures) == 4
    assert all("the invocation failed; Lambda retries it, then dead-letters it" in line["message"] for line in failures)
    # the cycle of each, but of the event that is no envelope at all
    assert [line.get("correlation_id") for line in failures] == [cycle, None, cycle, cycle]
    assert any("input_value='***'" in line["exception"] for line in failures)  # the secret was there, redacted
    assert VENUE_SECRET not in json.dumps(logs())
    # the good event still goes through
    assert agent_scoring.handler(good, LambdaContext()) == {"cycle_id": cycle, "published": ["scores"]}
