"""Redelivery in the local mesh: a repeated message places no second order and records no second fill;
a message whose claim a killed run left in progress is refused (the run fails, saying when to run it
again) until the claim expires, and then reconciled by client order id."""

from __future__ import annotations

from typing import Any

import pytest
from functional_builders import closes, series, settings

from coinswarm.domain.models import Action, FillRecorded
from coinswarm.errors import ClaimInProgressError
from coinswarm.stages.messages import DECISIONS, PLACEMENTS, DecidedStep, DecisionReady, decode, encode
from coinswarm.stages.outbox import IN_PROGRESS_TTL_S
from coinswarm.stages.placement import set_kill_switch
from coinswarm.wiring.runner import CycleRunner
from decisions import buy_decision
from functions.local import local_handlers


def test_a_decision_delivered_many_times_gives_one_order_and_one_fill(make_app) -> None:
    app, clock, handlers, runner, times = _mesh_after_twelve_cycles(make_app)
    decision_msg = _a_buy_decision(app, times[60])
    body = encode(decision_msg)
    for _ in range(50):  # at-least-once delivery: the same body, fifty times
        handlers[DECISIONS](body)
    book = app.broker.pending("BTC-USD")
    assert [o.client_order_id for o in book] == [decision_msg.steps[0].intent.intent_id]
    # the next cycle fills it, once
    clock.set(times[61])
    runner.run_cycle(times[61])
    for _ in range(5):
        handlers[DECISIONS](body)
    assert _ledger_fills_of(app, decision_msg.steps[0].intent.intent_id) == 1
    assert app.ledger.verify().ok


def test_kill_switch_refuses_and_the_refusal_is_stored(make_app) -> None:
    data = series(n=120)
    app, _ = make_app(settings(), data)
    set_kill_switch(app.state, True, reason="test")
    msg = _a_buy_decision(app, closes(data)[60])
    (_, done), *_ = app.stages.placement.handle(msg)
    assert done.orders == () and len(done.rejections) == 1
    assert "kill switch" in done.rejections[0].reason
    assert app.history.recent_rejections(5)[0].intent_id == msg.steps[0].intent.intent_id
    assert app.broker.pending() == []


def _mesh_after_twelve_cycles(make_app) -> tuple[Any, Any, Any, CycleRunner, list[int]]:
    """An app in mesh wiring, its clock, the local handlers, the runner and the closes of its 200-bar
    series, after twelve cycles (bars 49 to 60): warm enough for a decision at bar 60 to trade."""
    data = series(n=200)
    app, clock = make_app(settings(), data)
    handlers = local_handlers(app)
    runner = CycleRunner(app, wiring="mesh", handlers=handlers)
    times = closes(data)
    for ts in times[49:61]:
        clock.set(ts)
        runner.run_cycle(ts)
    return app, clock, handlers, runner, times


def _ledger_fills_of(app, intent_id: str) -> int:
    """How many fills of this intent's order the ledger holds."""
    fills = [e.payload.fill for e in app.ledger.events() if isinstance(e.payload, FillRecorded)]
    return [f.client_order_id for f in fills].count(intent_id)


def _a_buy_decision(app, ts: int) -> DecisionReady:
    return buy_decision(
        "BTC-USD",
        f"cycle-{ts}",
        ts,
        decision_id=f"BTC-USD-{ts}",
        intent_id=f"cs-BTC-USD-{ts}-b",
        notional=500,
        price=100,
        settle_ts=ts - 60,
    )


def test_a_hand_on_lost_after_settling_is_handed_on_again_by_the_redelivery(make_app) -> None:
    """Settling fills the order in the broker's book; if the PlacementDone carrying the fill is lost (the
    publish failed), the redelivered decision must hand on that fill again, or the ledger never sees it."""
    data = series(n=120)
    app, _ = make_app(settings(), data)
    ts = closes(data)[60]
    placed = app.stages.placement.handle(_a_buy_decision(app, ts))  # hand-on delivered: the order is pending
    app.stages.ledger.handle(placed[0][1])
    settle = DecisionReady(
        cycle_id=f"cycle-{ts + 60}",
        symbol="BTC-USD",
        steps=(DecidedStep(ts + 60, Action.HOLD, 0.0, 101.0, ts + 60, 101.0),),
    )
    first = app.stages.placement.handle(settle)  # fills the order ... and its publish is lost
    assert len(first[0][1].fills) == 1
    again = app.stages.placement.handle(decode(DecisionReady, encode(settle)))  # the redelivery
    assert again[0][1].fills == first[0][1].fills
    (_, logged), *_ = app.stages.ledger.handle(again[0][1])
    assert logged.appended == 1
    (_, twice), *_ = app.stages.ledger.handle(first[0][1])  # and a late copy of the first is a duplicate
    assert twice.appended == 0 and twice.duplicates == 1
    assert app.ledger.verify().ok


def test_a_claim_left_by_a_killed_run_refuses_the_redelivery_until_it_expires_then_it_reconciles(make_app) -> None:
    """The local mesh delivers each message once, in order: the only claim in progress it can meet is one
    left by a process killed mid-run. Then the message is refused, loudly, not acknowledged as done."""
    app, clock, handlers, runner, times = _mesh_after_twelve_cycles(make_app)
    msg = _a_buy_decision(app, times[60])
    intent_id = msg.steps[0].intent.intent_id
    broker, coordination = app.broker, app.coordination
    real_submit = broker.submit

    def submit_then_die(order: Any) -> Any:
        real_submit(order)  # the venue has it ...
        raise SystemExit("killed")  # ... and the process dies before it completed its claims

    broker.submit = submit_then_die
    coordination.abandon = lambda *a, **k: None  # killed outright: no `finally` of ours runs
    with pytest.raises(SystemExit):
        handlers[DECISIONS](encode(msg))
    broker.submit = real_submit
    del coordination.abandon
    killed_at = clock.now()
    for after in (1, IN_PROGRESS_TTL_S - 1):  # run again too soon: refused, with the time to wait
        clock.set(killed_at + after)
        with pytest.raises(ClaimInProgressError, match=f"up to {IN_PROGRESS_TTL_S - after} s more"):
            handlers[DECISIONS](encode(msg))
    clock.set(killed_at + IN_PROGRESS_TTL_S)
    [(topic, done)] = handlers[DECISIONS](encode(msg))  # the claim expired: taken over, reconciled
    assert topic == PLACEMENTS and done.orders == ()
    assert any("reconciled" in note and intent_id in note for note in done.notes), done.notes
    assert [o.client_order_id for o in broker.pending("BTC-USD")] == [intent_id]  # one order at the venue
    clock.set(times[61])
    runner.run_cycle(times[61])  # the next cycle fills it, once
    assert _ledger_fills_of(app, intent_id) == 1
    assert app.ledger.verify().ok
