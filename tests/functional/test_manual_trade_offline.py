"""`run_cycle` on the manual trade endpoint while the market data cannot be read (issue 10, item 17): a
503 that names the cause and says what to do, not a 500 claiming nothing was wrong. The app is real and
its market data is the Coinbase public client pointed at a loopback port where nothing listens."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

import pytest
from functional_builders import START, settings

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.http.json_http import HttpRequest
from coinswarm.http.manual_trade import ManualTradeHandler, stored_close
from coinswarm.http.signing import HmacAuthenticator, sign
from coinswarm.marketdata.coinbase_public import CoinbasePublicMarketData
from coinswarm.ports.clock import SimulatedClock
from coinswarm.wiring.bootstrap import build_app
from coinswarm.wiring.runner import CycleRunner

SECRET = "manual-trade-secret-FAKE-offline-3e2d1c"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_run_cycle_without_market_data_is_a_503_naming_the_cause(caplog: pytest.LogCaptureFixture) -> None:
    cfg = settings(wiring="fused")
    clock = SimulatedClock(START)
    market = CoinbasePublicMarketData(f"http://127.0.0.1:{closed_port()}", connect_timeout_s=2.0)
    app = build_app(cfg, market=market, store=MemoryStore(), clock=clock)
    runner = CycleRunner(app, wiring="fused")

    def run_cycle() -> dict[str, Any]:
        runner.run_cycle(clock.now())
        return {"cycles_run": runner.cycles}

    handler = ManualTradeHandler(
        lambda intent: app.stages.placement.place(intent, now=clock.now()),
        run_cycle,
        clock,
        HmacAuthenticator([SECRET], clock),
        price_of=stored_close(app.state, cfg.timeframe_s),
    )
    body = json.dumps({"action": "run_cycle"}).encode()
    request = HttpRequest(
        "POST", "/", {"Content-Type": "application/json", **sign(SECRET, "POST", "/", body, START)}, body
    )
    with caplog.at_level(logging.WARNING):
        response = handler.handle(request)
    market.close()
    assert response.status == 503, response.body
    assert response.body["error"] == "market_data_unavailable"
    detail = response.body["detail"]
    assert detail.startswith("the market data could not be read: coinbase") and "retry" in detail
    assert "nothing about it was wrong" not in detail
    assert int(response.headers["Retry-After"]) > 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "an expected outage is not logged as a bug"
