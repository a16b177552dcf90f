"""The owner's controls and position-aware decisions through order placement on a real store: a SELL
with nothing held and a BUY at the position's limit are holds, not refusals; a paused or halted bot
still exits; the kill switch stops every order but the owner's flatten; protections pause entries from
the ledger, across a restart; and the commands a user types (pause, resume, kill-switch, flatten)."""

from __future__ import annotations

import json

import pytest
from functional_builders import START, series, settings

from coinswarm.cli.main import main, parser
from coinswarm.cli.owner_status import controls_lines
from coinswarm.domain.models import Action, Decision, ExitReason, Fill, OrderIntent, Side
from coinswarm.domain.risk import RiskDay
from coinswarm.stages.controls import flatten, set_paused
from coinswarm.stages.messages import DecidedStep, DecisionReady, PlacementDone
from coinswarm.stages.placement import set_kill_switch
from coinswarm.stages.protection_watch import stored_pauses
from coinswarm.wiring.bootstrap import build_app
from decisions import hold_decision

SYMBOL = "BTC-USD"


def decided(action: Action, ts: int, *, price: float = 100.0, notional: float = 1_000.0) -> DecisionReady:
    """A committee decision at `ts`, its intent sized as the vote stage sizes it."""
    decision = Decision(
        decision_id=f"{SYMBOL}-{ts}",
        cycle_id=f"c-{ts}",
        symbol=SYMBOL,
        ts=ts,
        action=action,
        signal=0.9 if action is Action.BUY else -0.9,
        confidence=0.9,
        votes=(),
        reason="test",
    )
    side = Side.BUY if action is Action.BUY else Side.SELL
    size = {"notional": notional} if side is Side.BUY else {"fraction": 1.0}
    intent = OrderIntent(
        intent_id=f"cs-{SYMBOL}-{ts}-{side.value[0]}",
        symbol=SYMBOL,
        side=side,
        reference_price=price,
        ts=ts,
        decision_id=decision.decision_id,
        exit_reason=ExitReason.SIGNAL if side is Side.SELL else None,
        **size,
    )
    step = DecidedStep(ts, action, 0.9, price, ts, price, decision, intent)
    return DecisionReady(cycle_id=f"c-{ts}", symbol=SYMBOL, steps=(step,))


def placed(app, msg: DecisionReady) -> PlacementDone:
    app.clock.set(msg.steps[-1].ts)  # a cycle at its own time (cycles a minute apart never share a trade lease)
    ((_, done),) = app.stages.placement.handle(msg)
    if done.fills:
        app.stages.ledger.handle(done)
    return done


def holding(app, ts: int, *, price: float = 100.0) -> None:
    """Buy 1,000 at `ts` and let it fill at the next cycle."""
    placed(app, decided(Action.BUY, ts, price=price))
    done = placed(app, hold_decision(SYMBOL, f"c-{ts + 60}", ts + 60, price=price))
    assert len(done.fills) == 1


def test_a_sell_with_nothing_held_is_a_hold_not_a_refusal(make_app) -> None:
    app, _ = make_app(settings(), series(n=10))
    done = placed(app, decided(Action.SELL, START + 60))
    assert done.orders == () and done.rejections == ()
    assert any("nothing held" in n for n in done.notes)
    assert app.history.recent_rejections(10) == []


def test_a_buy_with_the_position_at_its_limit_is_a_hold_not_a_refusal(make_app) -> None:
    app, _ = make_app(settings(risk={"max_position_notional": 1_000.0}), series(n=10))
    holding(app, START + 60)
    done = placed(app, decided(Action.BUY, START + 180))
    assert done.orders == () and done.rejections == () and any("at its limit" in n for n in done.notes)
    assert app.history.recent_rejections(10) == []


def test_a_manual_sell_of_nothing_is_still_refused(make_app) -> None:
    app, _ = make_app(settings(), series(n=10))
    intent = OrderIntent(
        intent_id="cs-mc-x",
        symbol=SYMBOL,
        side=Side.SELL,
        quantity=1,
        reference_price=100,
        ts=START,
        source="manual",
        exit_reason=ExitReason.MANUAL,
    )
    result = app.stages.placement.place(intent, now=START)
    assert result.rejection is not None and "nothing to sell" in result.rejection.reason


def test_paused_entries_are_refused_while_an_exit_goes_on(make_app) -> None:
    app, _ = make_app(settings(), series(n=10))
    holding(app, START + 60)
    set_paused(app.state, True, reason="holiday")
    refused = placed(app, decided(Action.BUY, START + 180))
    assert refused.orders == () and "the owner paused entries: holiday" in refused.rejections[0].reason
    exited = placed(app, decided(Action.SELL, START + 240))
    assert len(exited.orders) == 1 and exited.rejections == ()
    sold = placed(app, hold_decision(SYMBOL, "c-x", START + 300, price=100.0))
    assert sold.fills[0].exit_reason is ExitReason.SIGNAL
    set_paused(app.state, False)
    assert len(placed(app, decided(Action.BUY, START + 360)).orders) == 1


def test_a_bot_halted_for_the_day_still_exits(make_app) -> None:
    app, _ = make_app(settings(risk={"max_orders_per_day": 1}), series(n=10))
    holding(app, START + 60)  # the day's one order
    placement = app.stages.placement
    day = RiskDay(day=START // 86_400, start_equity=20_000, orders=1, halted="daily loss 10,000.00 reached the limit")
    app.state.put(placement.day_key, day.to_dict())
    assert "rest of the day" in placed(app, decided(Action.BUY, START + 180)).rejections[0].reason
    exited = placed(app, decided(Action.SELL, START + 240))
    assert len(exited.orders) == 1 and exited.rejections == ()


def test_the_kill_switch_stops_an_exit_but_not_the_owners_flatten(make_app) -> None:
    app, _ = make_app(settings(), series(n=10))
    holding(app, START + 60)
    set_kill_switch(app.state, True, reason="test")
    stopped = placed(app, decided(Action.SELL, START + 180))
    assert stopped.orders == () and "kill switch" in stopped.rejections[0].reason
    booked: list[Fill] = []
    (done,) = flatten(app.stages.placement, None, now=START + 200, price_of=lambda s: 99.0, record=booked.extend)
    assert done.rejection is None and done.order is not None and len(done.fills) == 1
    assert booked == list(done.fills) and booked[0].exit_reason is ExitReason.FLATTEN
    assert app.broker.account().positions[SYMBOL] == 0.0


def test_protections_pause_entries_from_the_ledger_and_survive_a_restart(make_app, tmp_path) -> None:
    cfg = settings(protections={"cooldown": {"candles": 5}})
    app, _ = make_app(cfg, series(n=10))
    holding(app, START + 60)
    stop = OrderIntent(
        intent_id=f"cs-{SYMBOL}-{START + 180}-sl",
        symbol=SYMBOL,
        side=Side.SELL,
        fraction=1.0,
        reference_price=90,
        ts=START + 180,
        exit_reason=ExitReason.STOP_LOSS,
    )
    app.stages.placement.place(stop, now=START + 180)
    exited = placed(app, hold_decision(SYMBOL, "c-s", START + 240, price=90.0))
    assert exited.fills[0].exit_reason is ExitReason.STOP_LOSS
    refused = placed(app, decided(Action.BUY, START + 300))
    assert "cooldown on BTC-USD until" in refused.rejections[0].reason
    (pause,) = stored_pauses(app.state, "paper")  # stored with its reason and end, for status
    assert (pause.protection, pause.scope, pause.until_ts) == ("cooldown", SYMBOL, START + 240 + 5 * 60)
    lines = controls_lines(app.state, "paper", app.ledger.events())
    assert any(line.startswith("protection   cooldown on BTC-USD until") for line in lines)
    assert "exits        stop_loss 1" in lines
    # a new process on the same state file (a restart, another function) reads the same pause from the ledger
    again = build_app(cfg, market=app.market, store=app.state, clock=app.clock)
    later = placed(again, decided(Action.BUY, START + 360))
    assert "cooldown on BTC-USD" in later.rejections[0].reason
    assert len(placed(again, decided(Action.BUY, START + 240 + 5 * 60)).orders) == 1  # the cooldown ended


def test_the_owners_commands(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    state = str(tmp_path / "s.db")
    assert main(["run", "--synthetic", "--cycles", "240", "--state", state, "--wiring", "fused", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["pause", "--reason", "holiday", "--state", state]) == 0
    assert main(["kill-switch", "on", "--state", state]) == 0
    out = capsys.readouterr().out
    assert "entries PAUSED" in out and "stops resting at the venue stay" in out
    assert main(["status", "--state", state]) == 0
    text = capsys.readouterr().out
    assert "entries      PAUSED by the owner: holiday" in text and "stops resting at the venue stay" in text
    assert main(["flatten", "--state", state]) == 2
    assert "--all" in capsys.readouterr().err
    assert main(["flatten", "--all", "--state", state, "--json"]) == 0
    flattened = json.loads(capsys.readouterr().out)["flattened"]
    assert flattened and all(f["refused"] is None for f in flattened)
    assert main(["status", "--state", state, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["positions"] == [] and status["exit_reasons"]["flatten"] == len(flattened)
    assert status["entries_paused"]["on"] is True
    assert main(["ledger", "verify", "--state", state]) == 0
    assert main(["resume", "--state", state]) == 0
    assert main(["flatten", "--all", "--state", state]) == 0
    assert "nothing to flatten" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["pause", "resume", "flatten", "kill-switch"])
def test_every_owner_command_has_help(command, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args([command, "--help"])
    assert exc.value.code == 0 and "exit" in capsys.readouterr().out
