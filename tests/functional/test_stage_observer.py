"""What a cloud function's App does after its stages (coinswarm.notify.observe): metric lines in
CloudWatch's embedded metric format on stdout (five declared metrics, the rest as properties), the fill
notification with the exit's P&L, the daily summary at the first cycle of a UTC day, the live breaker's
opening, and a failing stage counted and re-raised untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chat_services import ChatServices
from coinswarm.domain.models import OrderIntent, Side
from coinswarm.notify.metrics import FIELDS, METRICS, NAMESPACE, line
from coinswarm.stages.messages import CycleTick
from decisions import buy_decision
from remote_world import make_world


@pytest.fixture
def services() -> Iterator[ChatServices]:
    with ChatServices() as s:
        yield s


def metric_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in out.splitlines() if x.startswith('{"_aws"')]


def test_the_line_is_embedded_metric_format() -> None:
    doc = json.loads(line({"Fills": 2, "Orders": 3}, ts_ms=1_733_500_000_000))
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert doc["_aws"]["Timestamp"] == 1_733_500_000_000 and directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [[]] and directive["Metrics"] == [{"Name": "Fills", "Unit": "Count"}]
    assert doc["Fills"] == 2 and doc["Orders"] == 3 and doc["coinswarm_metric"] is True
    with pytest.raises(ValueError, match="unknown metric"):
        line({"Trades": 1}, ts_ms=0)
    assert len(METRICS) <= 5 and not set(METRICS) & set(FIELDS)


def test_a_cloud_cycle_writes_its_metrics_and_the_fill_notice(
    services: ChatServices, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(services, lazy=True)
    capsys.readouterr()
    world.buy("BTC-USD", 400.0)
    lines = metric_lines(capsys.readouterr().out)
    cycles = [x for x in lines if "Cycles" in x]
    placed = [x for x in lines if "Fills" in x]
    assert sum(x["Cycles"] for x in cycles) == pytest.approx(1.0) and all(x["DataLag"] >= 0 for x in cycles)
    assert sum(x["Fills"] for x in placed) == 1 and all(x["CycleLatency"] >= 0 for x in placed)
    for x in lines:
        declared = {m["Name"] for m in x["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        assert declared <= set(METRICS) and declared == {k for k in x if k in METRICS}
    (fill,) = [m.body["text"] for m in services.of("telegram.sendMessage")]
    assert fill.startswith("🟢 Bought ") and "BTC-USD" in fill
    assert len(services.of("discord")) == 1


def test_an_exit_carries_its_pnl(services: ChatServices) -> None:
    world = make_world(services)
    world.buy("ETH-USD", 400.0)
    held = world.app.ledger.portfolio().holdings["ETH-USD"]
    price = world.app.state.recent_candles("ETH-USD", 60, 1)[-1].close
    sell = OrderIntent(
        intent_id="sell-1", symbol="ETH-USD", side=Side.SELL, quantity=held.quantity, reference_price=price,
        ts=world.clock.now(), source="manual",
    )  # fmt: skip
    assert world.app.stages.placement.place(sell, now=world.clock.now()).order is not None
    world.next_cycle()
    fill = next(f for f in reversed(world.app.ledger.events()) if f.payload.kind == "fill").payload.fill
    expected = fill.quantity * (fill.price - held.avg_cost) - fill.fee
    text = services.of("telegram.sendMessage")[-1].body["text"]
    assert text.startswith("🔴 Sold ") and f"P&L {expected:+,.2f}" in text
    assert services.of("hook") == []  # not configured


def test_the_first_cycle_of_a_day_sends_the_summary(services: ChatServices) -> None:
    world = make_world(services)
    world.buy("BTC-USD", 300.0)
    day = 86_400
    midnight = (world.clock.now() // day + 1) * day
    world.clock.set(midnight)
    ingest = world.app.stages.ingest
    ingest.handle(CycleTick(cycle_id=f"cycle-{midnight}", ts=midnight, symbols=("BTC-USD",)))
    ingest.handle(CycleTick(cycle_id=f"cycle-{midnight}", ts=midnight, symbols=("BTC-USD",)))  # a redelivery
    summaries = [m.body["text"] for m in services.of("telegram.sendMessage") if m.body["text"].startswith("📊")]
    assert len(summaries) == 1
    assert "1 trade(s)" in summaries[0] and summaries[0].startswith("📊 2023-11-14: equity ")


def test_the_live_breaker_opening_is_told(services: ChatServices) -> None:
    world = make_world(services)
    observer_app = world.app
    observer_app.settings = observer_app.settings.model_copy(update={"mode": "live"})
    observer_app.state.put(
        "venue:coinbase:breaker",
        {"venue": "coinbase", "mode": "open", "describe": "open after 5 failures (venue unreachable)", "ts": 7},
    )
    world.next_cycle()
    world.next_cycle()  # the same opening: told once
    told = [m.body["text"] for m in services.of("telegram.sendMessage") if "Circuit breaker" in m.body["text"]]
    assert told == ["⚡ Circuit breaker opened on coinbase\nopen after 5 failures (venue unreachable)"]


def test_a_failing_stage_is_counted_and_raises_unchanged(
    services: ChatServices, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(services, lazy=True)
    capsys.readouterr()
    with pytest.raises(KeyError):
        world.app.stages.ingest.handle(CycleTick(cycle_id="cycle-1", ts=world.clock.now(), symbols=("NOPE-USD",)))
    assert [x.get("Errors") for x in metric_lines(capsys.readouterr().out)] == [1.0]


def test_a_protection_pausing_entries_is_told_once(services: ChatServices) -> None:
    from coinswarm.stages.placement import set_kill_switch
    from coinswarm.stages.protection_watch import pauses_key

    world = make_world(services)
    now = world.clock.now()
    pause = {"protection": "cooldown", "scope": "BTC-USD", "since_ts": now - 60, "until_ts": now + 3600,
             "reason": "a stop-loss exit 1 min ago"}  # fmt: skip
    world.app.state.put(pauses_key(world.app.settings.account), {"pauses": [pause], "ts": now})
    set_kill_switch(world.app.state, True, reason="test", ts=now)  # every entry is refused from here on
    price = world.app.state.recent_candles("BTC-USD", 60, 1)[-1].close
    for n in range(2):  # two cycles' decisions to buy, both refused: the pause is told once
        decision = buy_decision("BTC-USD", f"cycle-{now + n}", now, intent_id=f"buy-{n}", notional=100.0, price=price)
        ((_, done),) = world.app.stages.placement.handle(decision)
        assert done.rejections
    told = [m.body["text"] for m in services.of("telegram.sendMessage") if m.body["text"].startswith("🛡")]
    assert told == [
        "🛡 cooldown paused entries on BTC-USD\na stop-loss exit 1 min ago\nuntil " + told[0].rsplit("until ", 1)[1]
    ]
