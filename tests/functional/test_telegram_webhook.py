"""The Telegram webhook over a real App (tests/remote_world.py): Telegram's secret token header, the allowed
chats, each update handled once however often Telegram redelivers it, fast commands answered in the
webhook's response as a Bot API call, slow ones acknowledged and answered afterwards with sendMessage
(against the Bot API's local stand-in), and the fill notification the cycle sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chat_services import ChatServices, telegram_update
from coinswarm.http.json_http import HttpRequest, HttpResponse
from coinswarm.http.telegram_remote import TELEGRAM_PATH, RemoteRouter, remote_router
from coinswarm.http.telegram_webhook import SECRET_HEADER
from remote_world import CHAT, STATUS_TOKEN, WEBHOOK_SECRET, World, make_world


@pytest.fixture
def services() -> Iterator[ChatServices]:
    with ChatServices() as s:
        yield s


@pytest.fixture
def world(services: ChatServices) -> World:
    return make_world(services)


class Deferred:
    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []

    def __call__(self, job: dict[str, Any]) -> None:
        self.jobs.append(job)


def router(world: World, deferred: Deferred | None = None) -> RemoteRouter:
    return remote_router(
        world.app, run_cycle=world.run_cycle, defer=deferred or Deferred(), status_tokens=[STATUS_TOKEN]
    )


def post(r: RemoteRouter, update: dict[str, Any] | bytes, *, secret: str | None = WEBHOOK_SECRET) -> HttpResponse:
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    headers = {"Content-Type": "application/json", **({SECRET_HEADER: secret} if secret is not None else {})}
    return r.handle(HttpRequest("POST", TELEGRAM_PATH, headers, body))


def answered(reply: HttpResponse) -> str:
    assert reply.status == 200, reply.body
    assert reply.body["method"] == "sendMessage" and reply.body["chat_id"] == CHAT
    text: str = reply.body["text"]
    return text


def test_status_answers_in_the_webhook_response(world: World) -> None:
    world.buy("BTC-USD")
    text = answered(post(router(world), telegram_update(1, CHAT, "/status")))
    assert text.startswith("📈 PAPER · equity ")
    assert "• BTC-USD " in text and "stop " in text
    assert "kill switch off · entries open" in text
    assert world.services.of("telegram.sendMessage")[-1].body["text"].startswith("🟢 Bought ")  # the fill's notice


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/help", "/flatten SYMBOL|all"),
        ("/profit", "P&L "),
        ("/balance", "cash "),
        ("/trades", "BUY "),
        ("/daily", " fill(s) · fees "),
        ("/status@coinswarm_bot", "equity"),
        ("/nonsense", "Unknown command /nonsense."),
    ],
)
def test_reading_commands(world: World, command: str, expected: str) -> None:
    world.buy("ETH-USD")
    assert expected in answered(post(router(world), telegram_update(7, CHAT, command)))


def test_a_redelivered_update_is_handled_once(world: World) -> None:
    r, deferred = router(world), Deferred()
    r = router(world, deferred)
    first = post(r, telegram_update(9, CHAT, "/cycle"))
    again = post(r, telegram_update(9, CHAT, "/cycle"))
    assert "on it" in answered(first)
    assert again.status == 200 and again.body == {}
    assert len(deferred.jobs) == 1


def test_a_slow_command_is_acknowledged_then_answered_by_send_message(world: World, services: ChatServices) -> None:
    deferred = Deferred()
    r = router(world, deferred)
    ack = answered(post(r, telegram_update(11, CHAT, "/cycle")))
    assert ack.startswith("⏳ /cycle")
    (job,) = deferred.jobs
    before = len(services.of("telegram.sendMessage"))
    hook = r.telegram()
    assert hook is not None and hook.run_deferred(job)
    sent = services.of("telegram.sendMessage")[before:]
    assert [m.body["chat_id"] for m in sent] == [CHAT]
    assert sent[0].body["text"].startswith("🔁 Cycle cycle-")


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", WEBHOOK_SECRET + "x"])
def test_the_secret_token_is_required(world: World, secret: str | None) -> None:
    reply = post(router(world), telegram_update(12, CHAT, "/kill"), secret=secret)
    assert reply.status == 401 and "text" not in reply.body


def test_a_chat_not_allowed_is_ignored_quietly(world: World) -> None:
    deferred = Deferred()
    reply = post(router(world, deferred), telegram_update(13, CHAT + 1, "/cycle"))
    assert reply.status == 200 and reply.body == {} and deferred.jobs == []


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b'{"update_id": "1"}', 400), (b"[]", 400), (b'{"update_id": 5}', 200)],
)
def test_malformed_updates(world: World, body: bytes, status: int) -> None:
    assert post(router(world), body).status == status


def test_plain_text_gets_a_hint(world: World) -> None:
    assert "/help" in answered(post(router(world), telegram_update(14, CHAT, "hello")))


def test_only_post(world: World) -> None:
    reply = router(world).handle(HttpRequest("GET", TELEGRAM_PATH, {SECRET_HEADER: WEBHOOK_SECRET}, b""))
    assert reply.status == 405
