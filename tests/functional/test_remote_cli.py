"""The client commands against `coinswarm serve`'s handlers (a real App, a real local server): `coinswarm trade`
and `coinswarm cycle` signed as the manual trade endpoint expects, clear failures without a secret or a
URL, `coinswarm telegram setup` against the Bot API's stand-in, and `coinswarm serve` itself started as a
process on a synthetic series, answering its page and a signed trade."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chat_services import TOKEN, ChatServices
from coinswarm.cli.main import main
from coinswarm.cli.serve import Served
from coinswarm.http.signing import sign
from coinswarm.http.status_server import LocalServer
from remote_world import STATUS_TOKEN, WEBHOOK_SECRET, World, make_world

SECRET = "manual-trade-secret-0123456789abcdef"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, LocalServer]]:
    monkeypatch.setenv("COINSWARM_MANUAL_TRADE_SECRET", SECRET)
    with ChatServices() as services:
        world = make_world(services)
        s = Served(world.app, world.runner, [SECRET])
        with LocalServer(s.route) as server:
            s.lock = server.lock
            yield world, server


def test_trade_buy_is_signed_and_placed(served: tuple[World, LocalServer], capsys: pytest.CaptureFixture[str]) -> None:
    world, server = served
    code = main(["trade", "buy", "BTC-USD", "250", "--url", server.url, "--client-id", "phone-1"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["client_order_id"] == "cs-mc-phone-1" and out["symbol"] == "BTC-USD" and out["side"] == "buy"
    book = [o for o in world.app.broker.pending() if o.client_order_id == "cs-mc-phone-1"]  # type: ignore[attr-defined]
    assert len(book) == 1 and book[0].notional == 250


def test_a_refused_trade_exits_non_zero(served: tuple[World, LocalServer], capsys: pytest.CaptureFixture[str]) -> None:
    _, server = served
    assert main(["trade", "sell", "DOGE-USD", "5", "--url", server.url]) == 1
    assert "no recent price for DOGE-USD" in capsys.readouterr().err


def test_cycle_runs_a_cycle(served: tuple[World, LocalServer], capsys: pytest.CaptureFixture[str]) -> None:
    world, server = served
    before = world.app.history.recent_decisions(1)[0].ts
    world.clock.set(world.closes[-1])
    assert main(["cycle", "--url", server.url]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["cycle_id"] == f"cycle-{world.closes[-1]}"
    assert world.app.history.recent_decisions(1)[0].ts > before


def test_no_secret_no_request(served: tuple[World, LocalServer], monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    _, server = served
    monkeypatch.delenv("COINSWARM_MANUAL_TRADE_SECRET")
    assert main(["cycle", "--url", server.url]) == 2
    assert "set COINSWARM_MANUAL_TRADE_SECRET" in capsys.readouterr().err


def test_a_wrong_secret_is_refused(served: tuple[World, LocalServer], monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    _, server = served
    monkeypatch.setenv("COINSWARM_MANUAL_TRADE_SECRET", "another-secret-0123456789abcdef")
    assert main(["cycle", "--url", server.url]) == 1
    assert "bad signature" in capsys.readouterr().err


def test_no_url_says_where_to_get_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("COINSWARM_REMOTE__URL", raising=False)
    (tmp_path / "empty.toml").write_text("")
    assert main(["cycle", "--config", str(tmp_path / "empty.toml")]) == 2
    assert "give --url, or set remote.url" in capsys.readouterr().err


def test_plain_http_elsewhere_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cycle", "--url", "http://example.com/"]) == 2
    assert "https://" in capsys.readouterr().err


def test_telegram_setup_registers_the_webhook(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ChatServices() as services:
        for key, value in {
            "COINSWARM_NOTIFY__TELEGRAM_BOT_TOKEN": TOKEN,
            "COINSWARM_NOTIFY__TELEGRAM_API_URL": services.url,
            "COINSWARM_REMOTE__STATUS_URL": "https://abc.lambda-url.eu-west-1.on.aws",
            "COINSWARM_REMOTE__TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "COINSWARM_REMOTE__TELEGRAM_CHAT_IDS": "[4242]",
        }.items():
            monkeypatch.setenv(key, value)
        assert main(["telegram", "setup"]) == 0
        assert services.webhook["url"] == "https://abc.lambda-url.eu-west-1.on.aws/telegram"
        assert services.webhook["secret_token"] == WEBHOOK_SECRET
        assert services.webhook["allowed_updates"] == ["message"]
        assert "Webhook was set" in capsys.readouterr().out
        assert main(["telegram", "info"]) == 0
        assert json.loads(capsys.readouterr().out)["url"].endswith("/telegram")


def test_serve_runs_as_a_process(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    env = {
        **os.environ,
        "COINSWARM_MANUAL_TRADE_SECRET": SECRET,
        "COINSWARM_REMOTE__STATUS_TOKEN": STATUS_TOKEN,
        "COINSWARM_STORE__PATH": str(tmp_path / "state.db"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "coinswarm.cli.main", "serve", "--synthetic", "--port", "0", "--config", "empty.toml"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("coinswarm serve · state "), proc.stderr.read() if proc.stderr else first
        url = first.rsplit(" · ", 1)[1].strip()
        page = httpx.get(f"{url}/", timeout=10)
        assert page.status_code == 200 and "<title>Coinswarm status</title>" in page.text
        status = httpx.get(f"{url}/status", headers={"Authorization": f"Bearer {STATUS_TOKEN}"}, timeout=10)
        assert status.status_code == 200 and status.json()["fills"] == 0
        body = json.dumps({"action": "run_cycle"}).encode()
        import time

        headers = {"Content-Type": "application/json", **sign(SECRET, "POST", "/", body, int(time.time()))}
        ran = httpx.post(f"{url}/", content=body, headers=headers, timeout=60)
        assert ran.status_code == 202, ran.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
