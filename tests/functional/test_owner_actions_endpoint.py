"""The owner's controls as actions of the manual trade endpoint: pause and resume, the kill switch, and
flatten (which exits even with the kill switch on), each signed like every request, each refused
cleanly when malformed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from functional_builders import series, settings

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.domain.models import ExitReason, FillRecorded, OrderIntent, Side
from coinswarm.http.json_http import HttpRequest, HttpResponse
from coinswarm.http.manual_trade import ManualTradeHandler, stored_close
from coinswarm.http.owner_actions import owner_controls
from coinswarm.http.signing import HmacAuthenticator, sign
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.controls import paused_reason
from coinswarm.stages.placement import kill_switch_on
from coinswarm.wiring.bootstrap import App, build_app
from coinswarm.wiring.runner import CycleRunner

SECRET = "owner-actions-secret-5d1e9a7c3b"


class Endpoint:
    def __init__(self, *, controls: bool = True) -> None:
        data = series(n=60)
        self.closes = sorted({c.close_ts for candles in data.values() for c in candles})
        self.clock = SimulatedClock(self.closes[-2])  # one candle left for the cycle that fills a buy
        cfg = settings(wiring="fused")
        self.app: App = build_app(cfg, market=ReplayMarketData(data, label="t"), store=MemoryStore(), clock=self.clock)
        self.runner = CycleRunner(self.app, wiring="fused")
        self.runner.run_cycle(self.clock.now())  # every symbol has a stored close
        self.handler = ManualTradeHandler(
            lambda intent: self.app.stages.placement.place(intent, now=self.clock.now()),
            lambda: {},
            self.clock,
            HmacAuthenticator([SECRET], self.clock),
            price_of=stored_close(self.app.state, cfg.timeframe_s),
            controls=owner_controls(self.app) if controls else None,
        )
        self.sent = 0

    def send(self, payload: dict[str, Any]) -> HttpResponse:
        self.sent += 1  # each request its own signature
        body = json.dumps(payload).encode()
        auth = sign(SECRET, "POST", "/", body, self.clock.now() - self.sent)
        return self.handler.handle(HttpRequest("POST", "/", {"Content-Type": "application/json", **auth}, body))

    def buy_and_fill(self, symbol: str = "BTC-USD") -> None:
        intent = OrderIntent(
            intent_id="cs-mc-b1",
            symbol=symbol,
            side=Side.BUY,
            notional=500,
            reference_price=1,
            ts=self.clock.now(),
            source="manual",
        )
        assert self.app.stages.placement.place(intent, now=self.clock.now()).order is not None
        self.clock.set(self.closes[-1])
        self.runner.run_cycle(self.clock.now())  # fills it at the last candle's open
        assert self.app.broker.account().positions[symbol] > 0


def test_pause_and_resume() -> None:
    e = Endpoint()
    r = e.send({"action": "pause", "reason": "holiday"})
    assert r.status == 200 and r.body["entries_paused"]["on"] is True
    assert "holiday" in paused_reason(e.app.state)
    buy = {"action": "trade", "symbol": "BTC-USD", "side": "buy", "notional": 100.0}
    refused = e.send(buy)
    assert refused.status == 422 and "paused" in refused.body["detail"]
    assert e.send({"action": "resume"}).status == 200 and paused_reason(e.app.state) == ""
    assert e.send(buy).status == 202


def test_flatten_exits_with_the_kill_switch_on() -> None:
    e = Endpoint()
    e.buy_and_fill()
    r = e.send({"action": "kill_switch", "on": True, "reason": "incident"})
    assert r.status == 200 and "stops resting at the venue stay" in r.body["note"] and kill_switch_on(e.app.state)
    sell = e.send({"action": "trade", "symbol": "BTC-USD", "side": "sell", "quantity": 1.0})
    assert sell.status == 422 and "kill switch" in sell.body["detail"]
    done = e.send({"action": "flatten", "symbol": "BTC-USD"})
    assert done.status == 200, done.body
    (one,) = done.body["flattened"]
    assert one["symbol"] == "BTC-USD" and one["refused"] is None and one["filled"]
    assert e.app.broker.account().positions["BTC-USD"] == 0.0
    sells = [
        ev.payload.fill
        for ev in e.app.ledger.events()
        if isinstance(ev.payload, FillRecorded) and ev.payload.fill.side is Side.SELL
    ]
    assert [f.exit_reason for f in sells] == [ExitReason.FLATTEN] and e.app.ledger.verify().ok
    again = e.send({"action": "flatten", "all": True})
    assert again.status == 200 and again.body["flattened"] == []


@pytest.mark.parametrize(
    "payload, loc",
    [
        ({"action": "flatten"}, "symbol"),
        ({"action": "flatten", "symbol": "BTC-USD", "all": True}, "symbol"),
        ({"action": "flatten", "symbol": "btc"}, "symbol"),
        ({"action": "kill_switch"}, "on"),
        ({"action": "kill_switch", "on": "yes"}, "on"),
        ({"action": "pause", "reason": "a\nb"}, "reason"),
        ({"action": "resume", "extra": 1}, "extra"),
        ({"action": "sell_everything"}, "action"),
    ],
)
def test_malformed_actions_are_refused_naming_the_field(payload: dict[str, Any], loc: str) -> None:
    e = Endpoint()
    r = e.send(payload)
    assert r.status == 422 and r.body["error"] == "invalid_request"
    assert any(loc in f["loc"] or loc in f["msg"] for f in r.body["fields"]), r.body
    assert not kill_switch_on(e.app.state) and paused_reason(e.app.state) == ""


def test_an_endpoint_without_controls_says_so() -> None:
    e = Endpoint(controls=False)
    r = e.send({"action": "pause"})
    assert r.status == 501 and r.body["error"] == "not_available" and paused_reason(e.app.state) == ""
