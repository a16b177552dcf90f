"""The owner's Telegram commands over a real App: /pause and /resume set the owner's pause (exits go on),
/kill and /kill off the kill switch, /flatten exits a position at market with reason flatten (answered after,
by sendMessage), each also notified to the other channels; and `coinswarm pause|kill-switch|flatten --url`
against `coinswarm serve`'s handlers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chat_services import ChatServices, telegram_update
from coinswarm.cli.main import main
from coinswarm.cli.serve import Served
from coinswarm.http.json_http import HttpRequest, HttpResponse
from coinswarm.http.status_server import LocalServer
from coinswarm.http.telegram_remote import TELEGRAM_PATH, RemoteRouter, remote_router
from coinswarm.http.telegram_webhook import SECRET_HEADER
from coinswarm.stages.placement import kill_switch_on
from remote_world import CHAT, STATUS_TOKEN, WEBHOOK_SECRET, World, make_world

SECRET = "manual-trade-secret-0123456789abcdef"


@pytest.fixture
def services() -> Iterator[ChatServices]:
    with ChatServices() as s:
        yield s


@pytest.fixture
def world(services: ChatServices) -> World:
    return make_world(services)


class Deferred(list[dict[str, Any]]):
    def __call__(self, job: dict[str, Any]) -> None:
        self.append(job)


def router(world: World, deferred: Deferred) -> RemoteRouter:
    return remote_router(world.app, run_cycle=world.run_cycle, defer=deferred, status_tokens=[STATUS_TOKEN])


def say(r: RemoteRouter, update_id: int, text: str) -> str:
    body = json.dumps(telegram_update(update_id, CHAT, text)).encode()
    reply: HttpResponse = r.handle(HttpRequest("POST", TELEGRAM_PATH, {SECRET_HEADER: WEBHOOK_SECRET}, body))
    assert reply.status == 200 and reply.body["method"] == "sendMessage", reply.body
    answer: str = reply.body["text"]
    return answer


def paused(world: World) -> bool:
    found = world.app.state.get("flags:paused")
    return bool(found and found.value.get("on"))


def discord_texts(services: ChatServices) -> list[str]:
    return [m.body["content"] for m in services.of("discord")]


def test_pause_and_resume(world: World, services: ChatServices) -> None:
    r = router(world, Deferred())
    assert say(r, 1, "/pause holiday").startswith("⏸ Entries paused")
    assert paused(world) and world.app.state.get("flags:paused").value["reason"] == "holiday"
    assert say(r, 2, "/resume") == "▶️ Entries resumed."
    assert not paused(world)
    assert discord_texts(services)[-2:] == ["⏸ Entries paused\nholiday\nby Telegram", "▶️ Entries resumed\nby Telegram"]
    assert "entries paused" not in say(r, 3, "/status")


def test_kill_and_lift(world: World, services: ChatServices) -> None:
    r = router(world, Deferred())
    assert say(r, 4, "/kill").startswith("🛑 Kill switch ON")
    assert kill_switch_on(world.app.state)
    assert "🛑 kill switch ON" in say(r, 5, "/status")
    assert say(r, 6, "/kill off") == "🟢 Kill switch off."
    assert not kill_switch_on(world.app.state)
    assert [t.split("\n")[0] for t in discord_texts(services)[-2:]] == ["🛑 Kill switch ON", "🟢 Kill switch off"]


def test_flatten_is_acknowledged_then_sells_and_answers(world: World, services: ChatServices) -> None:
    world.buy("BTC-USD", 400.0)
    deferred = Deferred()
    r = router(world, deferred)
    assert say(r, 7, "/flatten BTC-USD").startswith("⏳ /flatten BTC-USD")
    assert world.app.ledger.portfolio().quantity("BTC-USD") > 0, "nothing sold before the deferred run"
    hook = r.telegram()
    assert hook is not None and hook.run_deferred(deferred[0])
    assert world.app.ledger.portfolio().quantity("BTC-USD") == 0
    answer = services.of("telegram.sendMessage")[-1].body["text"]
    assert answer.startswith("🧹 Flatten BTC-USD:\n• BTC-USD: sold ")
    assert discord_texts(services)[-1] == "🧹 Flatten: BTC-USD\nby Telegram"
    sells = [
        e.payload.fill
        for e in world.app.ledger.events()
        if e.payload.kind == "fill" and e.payload.fill.side.value == "sell"
    ]
    assert [f.exit_reason.value if f.exit_reason else None for f in sells] == ["flatten"]


def test_flatten_needs_a_target(world: World) -> None:
    deferred = Deferred()
    r = router(world, deferred)
    say(r, 8, "/flatten")
    hook = r.telegram()
    assert hook is not None
    assert hook.commands.answer("flatten", "") == "Say what to flatten: /flatten BTC-USD or /flatten all"
    assert "❌" in hook.commands.answer("flatten", "not-a-symbol")


@pytest.fixture
def served(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, LocalServer]]:
    monkeypatch.setenv("COINSWARM_MANUAL_TRADE_SECRET", SECRET)
    s = Served(world.app, world.runner, [SECRET])
    with LocalServer(s.route) as server:
        s.lock = server.lock
        yield world, server


def test_the_controls_with_url(served: tuple[World, LocalServer], capsys: pytest.CaptureFixture[str]) -> None:
    world, server = served
    assert main(["pause", "--reason", "from the laptop", "--url", server.url]) == 0
    assert paused(world)
    assert main(["resume", "--url", server.url]) == 0
    assert not paused(world)
    assert main(["kill-switch", "on", "--url", server.url]) == 0
    assert kill_switch_on(world.app.state)
    assert main(["kill-switch", "off", "--url", server.url]) == 0
    world.buy("ETH-USD", 300.0)
    assert main(["flatten", "ETH-USD", "--url", server.url]) == 0
    assert world.app.ledger.portfolio().quantity("ETH-USD") == 0
    told = [t.split("\n") for t in discord_texts(world.services)]
    assert ["⏸ Entries paused", "from the laptop", "by coinswarm serve"] in told
    assert ["🧹 Flatten: ETH-USD", "by coinswarm serve"] in told
    capsys.readouterr()
    assert main(["flatten", "--url", server.url]) == 2
    assert "name one SYMBOL" in capsys.readouterr().err
