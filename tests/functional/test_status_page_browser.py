"""The status page in a real headless Chromium (tests/browser.py), served with its API by the local server
(`coinswarm serve`'s) over a real App: what it shows once the token is given, what it asks without one,
that a wrong token is refused, and that it fits a phone's width. Also GET /status itself."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator

import httpx
import pytest

from browser import body_attributes, chromium, rendered_dom
from chat_services import ChatServices
from coinswarm.http.status_server import LocalServer
from coinswarm.http.telegram_remote import remote_router
from remote_world import STATUS_TOKEN, World, make_world


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[World, LocalServer]]:
    with ChatServices() as services:
        world = make_world(services)
        world.buy("BTC-USD")
        world.buy("SOL-USD", 300.0)
        router = remote_router(
            world.app, run_cycle=world.run_cycle, defer=lambda job: None, status_tokens=[STATUS_TOKEN]
        )
        with LocalServer(router.handle) as server:
            yield world, server


def phone_dom(url: str) -> str:
    """The DOM as a 390 px wide phone screen renders it."""
    with tempfile.TemporaryDirectory(prefix="cs-chromium-") as profile:
        done = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
             "--window-size=390,844", "--virtual-time-budget=5000", "--dump-dom", url],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
    assert done.returncode == 0 and "<body" in done.stdout, done.stderr[-2000:]
    return done.stdout


def test_the_page_shows_the_status(served: tuple[World, LocalServer]) -> None:
    _, server = served
    status = httpx.get(f"{server.url}/status", headers={"Authorization": f"Bearer {STATUS_TOKEN}"}).json()
    dom = rendered_dom(f"{server.url}/#token={STATUS_TOKEN}")
    body = body_attributes(dom)
    assert body["data-state"] == "ready", dom[-3000:]
    assert float(body["data-equity"]) == pytest.approx(status["equity"], rel=1e-9)
    assert body["data-positions"] == "2" and len(status["positions"]) == 2
    assert int(body["data-points"]) == len(status["equity_history"]) >= 4
    assert int(body["data-decisions"]) == len(status["decisions"]) > 0
    assert "kill switch off" in body["data-health"] and "entries open" in body["data-health"]
    assert re.search(r"<td>BTC-USD</td>", dom) and re.search(r"<td>SOL-USD</td>", dom)
    assert "<polyline" in dom
    votes = status["decisions"][0]["votes"]
    assert votes and all(v["agent"] in dom for v in votes)


def test_without_a_token_the_page_asks_for_one(served: tuple[World, LocalServer]) -> None:
    _, server = served
    dom = rendered_dom(f"{server.url}/")
    assert body_attributes(dom)["data-state"] == "auth"
    assert 'id="token"' in dom and "Enter the status token" in dom


def test_a_wrong_token_is_refused(served: tuple[World, LocalServer]) -> None:
    _, server = served
    dom = rendered_dom(f"{server.url}/#token=not-the-token-at-all")
    assert body_attributes(dom)["data-state"] == "auth" and "refused" in dom
    reply = httpx.get(f"{server.url}/status", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_it_fits_a_phone(served: tuple[World, LocalServer]) -> None:
    _, server = served
    body = body_attributes(phone_dom(f"{server.url}/#token={STATUS_TOKEN}"))
    assert body["data-state"] == "ready" and body["data-fits"] == "true"


def test_the_status_json(served: tuple[World, LocalServer]) -> None:
    world, server = served
    reply = httpx.get(f"{server.url}/status", headers={"Authorization": f"Bearer {STATUS_TOKEN}"})
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    doc = reply.json()
    portfolio = world.app.ledger.portfolio()
    assert doc["cash"] == pytest.approx(portfolio.cash) and doc["fills"] == portfolio.fills == 2
    from coinswarm.stages.exit_watch import stored_exit_state

    for p in doc["positions"]:  # the stop the cycle keeps for the position (its exit tracker)
        tracked = stored_exit_state(world.app.state, world.app.settings.account, p["symbol"])
        assert tracked is not None and p["stop"] == pytest.approx(tracked["tracker"]["stop"])
        assert p["stop"] < p["avg_cost"]
    assert doc["protections"] == []
    assert doc["kill_switch"] == {"on": False} and doc["paused"] == {"on": False}
    assert doc["last_cycle"]["ts"] is not None and doc["last_cycle"]["late"] is False
    assert {"equity_history", "pending_orders", "circuit_breakers", "decisions"} <= set(doc)
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert STATUS_TOKEN not in page.text
