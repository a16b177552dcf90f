"""The manual trade endpoint accepts a signed request once per deployment, not once per process
(issue 10, item 8): a captured request sent again is refused by a second instance sharing the store,
and by an instance started after a restart on the same SQLite file. The endpoints are the deployed
ones: `functions/manual_trade/aws.py`'s and `functions/gcp_common.py`'s, on a real SQLite file."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from functional_builders import series, settings

from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.http.json_http import HttpRequest, HttpResponse
from coinswarm.http.signing import sign
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.ports.clock import SimulatedClock
from coinswarm.wiring.bootstrap import App, build_app
from coinswarm.wiring.runner import CycleRunner

pytest.importorskip("aws_lambda_powertools", reason="aws-lambda-powertools is not installed (.[aws])")

from functions.manual_trade.aws import manual_trade_endpoint

SECRET = "manual-trade-secret-FAKE-replay-5c3a91"
BUY = {"action": "trade", "symbol": "BTC-USD", "side": "buy", "notional": 150.0}  # no client_id: one per request
DATA = series(n=60)
LAST = max(c.close_ts for candles in DATA.values() for c in candles)


class Deployment:
    """Instances of the manual trade endpoint over one SQLite file; `restart()` drops them all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = SimulatedClock(LAST)
        self.cfg = settings(wiring="fused")
        self.stores: list[SqliteStore] = []

    def app(self) -> App:
        store = SqliteStore(self.path)
        self.stores.append(store)
        market = ReplayMarketData(DATA, label="synthetic test series")
        return build_app(self.cfg, market=market, store=store, clock=self.clock)

    def restart(self) -> None:
        for store in self.stores:
            store.close()
        self.stores.clear()


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    monkeypatch.setenv("COINSWARM_MANUAL_TRADE_SECRET", SECRET)
    d = Deployment(tmp_path / "state.db")
    CycleRunner(d.app(), wiring="fused").run_cycle(LAST)  # every symbol gets a stored close
    yield d
    d.restart()


def captured(ts: int) -> HttpRequest:
    body = json.dumps(BUY).encode()
    return HttpRequest("POST", "/", {"Content-Type": "application/json", **sign(SECRET, "POST", "/", body, ts)}, body)


def manual_orders(app: App) -> list[str]:
    broker = cast(PaperBroker, app.broker)
    return sorted(o.client_order_id for o in broker.pending() if o.client_order_id.startswith("cs-ma-"))


def assert_replay_refused(response: HttpResponse) -> None:
    assert response.status == 401, response.body
    assert response.body["error"] == "unauthorized" and response.body["detail"].startswith("replayed request")


def test_a_captured_request_is_refused_by_a_second_instance_sharing_the_store(deployment: Deployment) -> None:
    first_app, second_app = deployment.app(), deployment.app()
    first, second = manual_trade_endpoint(first_app), manual_trade_endpoint(second_app)
    request = captured(deployment.clock.now())
    accepted = first.handle(request)
    assert accepted.status == 202, accepted.body
    assert_replay_refused(second.handle(request))
    assert_replay_refused(first.handle(request))
    assert manual_orders(second_app) == [accepted.body["client_order_id"]], "one order, whoever was asked"
    fresh = second.handle(captured(deployment.clock.now() - 1))  # a new signed request is a new trade
    assert fresh.status == 202, fresh.body


def test_a_captured_request_is_refused_after_a_restart_on_the_same_file(deployment: Deployment) -> None:
    request = captured(deployment.clock.now())
    accepted = manual_trade_endpoint(deployment.app()).handle(request)
    assert accepted.status == 202, accepted.body
    deployment.restart()  # every process gone; the file stays
    deployment.clock.set(LAST + 60)  # still inside the request's 300-s window
    app = deployment.app()
    assert_replay_refused(manual_trade_endpoint(app).handle(request))
    assert manual_orders(app) == [accepted.body["client_order_id"]]


def test_the_gcp_endpoint_claims_signatures_in_the_store_too(deployment: Deployment) -> None:
    pytest.importorskip("functions_framework", reason="functions-framework is not installed (.[gcp])")
    from functions import gcp_common

    def container() -> Any:
        store = SqliteStore(deployment.path)
        deployment.stores.append(store)
        market = ReplayMarketData(DATA, label="synthetic test series")
        runtime = gcp_common.Runtime(
            deployment.cfg, log_stream=io.StringIO(), store=store, clock=deployment.clock, market=market
        )
        gcp_common.use_runtime(runtime)
        return gcp_common.manual_trade_handler()

    try:
        request = captured(deployment.clock.now())
        accepted = container().handle(request)
        assert accepted.status == 202, accepted.body
        assert_replay_refused(container().handle(request))  # another container (or the same after a restart)
    finally:
        gcp_common.use_runtime(None)
