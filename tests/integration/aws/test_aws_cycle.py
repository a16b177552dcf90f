"""The trading cycle on AWS: the schedule's event starts it, and every stage's function takes its
queue's messages as Lambda's SQS event source hands them over, down to the ledger."""

from __future__ import annotations

import json

from aws_helpers import SYMBOLS, TF, VENUE_KEY, VENUE_SECRET, LambdaContext

from coinswarm.domain.models import FillRecorded
from coinswarm.stages.messages import CANDLES, CandlesReady, decode
from functions.tick_ingest import aws as tick_ingest

FUNCTIONS = ("tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging")


def test_a_scheduler_event_puts_one_candles_message_per_symbol(make_mesh) -> None:
    mesh = make_mesh()
    ts = mesh.now - 5 * TF
    event = mesh.scheduler_event(ts)
    event["time"] = event["time"].replace(":00Z", ":17Z")  # the schedule fired late: same candle
    assert tick_ingest.handler(event, LambdaContext()) == {"cycle_id": f"cycle-{ts}", "published": len(SYMBOLS)}
    messages = mesh.receive(CANDLES)
    bodies = [decode(CandlesReady, m["Body"]) for m in messages]
    assert sorted(b.symbol for b in bodies) == sorted(SYMBOLS)
    for message, body in zip(messages, bodies, strict=True):
        assert body.cycle_id == f"cycle-{ts}" and body.candles[-1].close_ts == ts
        attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
        assert attributes == {"cycle_id": f"cycle-{ts}", "topic": CANDLES}
    # a repeated schedule (EventBridge Scheduler delivers at least once) hands on the very same messages
    # (ingest's outbox): byte for byte, so the next stage's own outbox recognises each as a repeat
    assert tick_ingest.handler(event, LambdaContext())["published"] == len(SYMBOLS)
    assert sorted(m["Body"] for m in mesh.receive(CANDLES)) == sorted(m["Body"] for m in messages)


def test_cycles_flow_through_every_queue_to_the_ledger(make_mesh, logs) -> None:
    mesh = make_mesh()
    n = len(SYMBOLS)
    cycles: list[str] = []
    fills: list[FillRecorded] = []
    for ts in range(mesh.now - 10 * TF, mesh.now + 1, TF):
        counts = mesh.cycle(ts)
        cycles.append(f"cycle-{ts}")
        before = len(fills)
        fills = [e.payload for e in mesh.app.ledger.events() if isinstance(e.payload, FillRecorded)]
        # one message per symbol at every hop: ingest -> scoring -> vote -> placement; on to logging only
        # a PlacementDone with a fill
        filled = len({f.fill.symbol for f in fills[before:]})
        assert counts == {"published": n, "candles": n, "scores": n, "decisions": n, "placements": filled}
        if fills:
            break
    assert fills, f"no order filled in {len(cycles)} cycles"
    assert [f.fill.client_order_id for f in fills] == mesh.broker.submitted[: len(fills)]
    assert mesh.app.ledger.verify().ok
    assert mesh.app.ledger.portfolio().seq == len(mesh.app.ledger.events())
    for topic in mesh.urls:
        assert mesh.depth(topic) == 0 and mesh.depth(topic, dlq=True) == 0, topic

    lines = logs()
    services = {line["service"] for line in lines}
    assert services == {f"coinswarm-{name}" for name in FUNCTIONS}
    for line in lines:  # every line a stage wrote names its cycle
        assert line["correlation_id"] in cycles, line
    assert {line["correlation_id"] for line in lines} == set(cycles)
    text = json.dumps(lines)
    assert VENUE_KEY not in text and VENUE_SECRET not in text
