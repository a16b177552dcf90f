"""Notifications against a local stand-in of each service (tests/chat_services.py): the request each
service documents, 429 and 5xx retried after the wait the service asks for (observed, not slept), a
refusal not retried, each event sent at most once per channel however often it is notified, a failing
service neither raising nor taking longer than the budget, and no token in any log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from chat_services import TOKEN, ChatServices
from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.config.loader import load_settings
from coinswarm.domain.models import ExitReason, Fill, RiskRejection, Side
from coinswarm.notify.channels import Channel, channels_from, telegram
from coinswarm.notify.events import fill_event, refusal_event, switch_event
from coinswarm.notify.notifier import Notifier
from coinswarm.notify.sender import post_json
from coinswarm.ports.clock import SimulatedClock

NOW = 1_733_500_000
CHAT = 424242


@pytest.fixture
def services() -> Iterator[ChatServices]:
    with ChatServices() as s:
        yield s


class Waits:
    """The sleep the sender is given: records each wait instead of sleeping it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def every_channel(s: ChatServices) -> list[Channel]:
    return [
        telegram(s.url, TOKEN, str(CHAT)),
        Channel("discord", s.discord_url()),
        Channel("slack", s.slack_url()),
        Channel("webhook", s.hook_url()),
    ]


def exit_fill() -> Fill:
    return Fill(
        fill_id="f-1",
        client_order_id="cs-BTC-USD-1-x",
        symbol="BTC-USD",
        side=Side.SELL,
        quantity=0.01,
        price=101_000.0,
        fee=0.6,
        ts=NOW,
        exit_reason=ExitReason.STOP_LOSS,
    )


def notifier(s: ChatServices, waits: Waits, store: MemoryStore | None = None, **kw: object) -> Notifier:
    return Notifier(every_channel(s), store or MemoryStore(), SimulatedClock(NOW), sleep=waits, **kw)  # type: ignore[arg-type]


def test_each_service_gets_its_documented_request(services: ChatServices) -> None:
    event = fill_event(exit_fill(), pnl=-12.5)
    sent = notifier(services, Waits()).notify(event)
    assert [(d.channel, d.sent) for d in sent] == [
        ("telegram", True),
        ("discord", True),
        ("slack", True),
        ("webhook", True),
    ]
    (tg,) = services.of("telegram.sendMessage")
    assert tg.body["chat_id"] == str(CHAT) and "Sold 0.01 BTC-USD" in tg.body["text"]
    assert "exit reason stop_loss · P&L -12.50" in tg.body["text"]
    assert services.of("discord")[0].body["content"] == event.text
    assert services.of("slack")[0].body == {"text": event.text}
    hook = services.of("hook")[0].body
    assert hook["event"] == "exit" and hook["key"] == "fill:f-1" and hook["data"]["pnl"] == -12.5


def test_sent_at_most_once_however_often_notified(services: ChatServices) -> None:
    store = MemoryStore()
    event = fill_event(exit_fill(), pnl=1.0)
    first = notifier(services, Waits(), store).notify(event)
    again = notifier(services, Waits(), store).notify(event)  # a retried stage, another container
    assert all(d.sent for d in first)
    assert [d.detail for d in again] == ["sent already"] * 4
    assert len(services.received) == 4


def test_a_failed_send_is_not_sent_again_either(services: ChatServices) -> None:
    store = MemoryStore()
    services.fail("discord", 400)
    first = notifier(services, Waits(), store).notify(switch_event("pause", on=True, reason="holiday", ts=NOW))
    assert [d.sent for d in first] == [True, False, True, True]
    again = notifier(services, Waits(), store).notify(switch_event("pause", on=True, reason="holiday", ts=NOW))
    assert len(services.of("discord")) == 1 and again[1].detail == "sent already"


@pytest.mark.parametrize(
    ("kind", "channel_index", "retry_after"),
    [("telegram.sendMessage", 0, 3.0), ("discord", 1, 0.75), ("slack", 2, 2.0), ("hook", 3, 1.0)],
)
def test_429_waits_what_the_service_asks(
    services: ChatServices, kind: str, channel_index: int, retry_after: float
) -> None:
    services.fail(kind, 429, retry_after=retry_after)
    waits = Waits()
    channel = every_channel(services)[channel_index]
    out = Notifier([channel], MemoryStore(), SimulatedClock(NOW), sleep=waits, budget_s=30.0).notify(
        switch_event("kill_switch", on=True, reason="", ts=NOW)
    )
    assert out[0].sent, out
    assert waits.waits == [retry_after]
    assert len(services.of(kind)) == 2


def test_5xx_backs_off_then_succeeds(services: ChatServices) -> None:
    services.fail("slack", 503, times=2)
    waits = Waits()
    with httpx.Client() as client:
        outcome = post_json(client, services.slack_url(), {"text": "hi"}, deadline_s=30.0, backoff_s=0.5, sleep=waits)
    assert outcome.sent and outcome.attempts == 3
    assert waits.waits == [0.5, 1.0]


def test_a_wait_past_the_deadline_gives_up_without_waiting(services: ChatServices) -> None:
    services.fail("telegram.sendMessage", 429, retry_after=30)
    waits = Waits()
    out = Notifier([every_channel(services)[0]], MemoryStore(), SimulatedClock(NOW), sleep=waits, budget_s=2.0).notify(
        switch_event("pause", on=False, reason="", ts=NOW)
    )
    assert not out[0].sent and "deadline" in out[0].detail
    assert waits.waits == []


def test_a_refusal_is_not_retried(services: ChatServices) -> None:
    with httpx.Client() as client:
        outcome = post_json(client, f"{services.url}/botWRONG/sendMessage", {"chat_id": 1, "text": "x"}, deadline_s=5)
    assert not outcome.sent and outcome.status == 401 and outcome.attempts == 1


def test_an_unreachable_service_neither_raises_nor_leaks_its_token(
    services: ChatServices, caplog: pytest.LogCaptureFixture
) -> None:
    dead = telegram("http://127.0.0.1:9", "999:SECRET-token-never-logged", "1")
    caplog.set_level(logging.INFO)
    out = Notifier([dead], MemoryStore(), SimulatedClock(NOW), sleep=Waits(), budget_s=1.0).notify(
        switch_event("kill_switch", on=True, reason="x", ts=NOW)
    )
    assert not out[0].sent
    assert "SECRET-token" not in caplog.text and "telegram (127.0.0.1:9)" in caplog.text


def test_a_broken_store_does_not_reach_the_stage(services: ChatServices) -> None:
    class Broken(MemoryStore):
        def begin(self, *a: object, **k: object) -> None:  # type: ignore[override]
            raise RuntimeError("store down")

    out = notifier(services, Waits(), Broken()).notify(switch_event("pause", on=True, reason="", ts=NOW))
    assert [d.detail for d in out] == ["error RuntimeError"] * 4 and services.received == []


def test_refusals_are_rate_limited_per_symbol_by_their_key(services: ChatServices) -> None:
    store, waits = MemoryStore(), Waits()
    n = Notifier(every_channel(services)[:1], store, SimulatedClock(NOW), sleep=waits)

    def refusal(ts: int, symbol: str = "BTC-USD") -> RiskRejection:
        return RiskRejection(intent_id=f"i{ts}", symbol=symbol, side=Side.BUY, reason="daily loss limit", ts=ts)

    start = NOW - NOW % 3600
    for ts in (start, start + 60, start + 3599):
        n.notify(refusal_event(refusal(ts), every_s=3600))
    n.notify(refusal_event(refusal(start + 60, "ETH-USD"), every_s=3600))
    n.notify(refusal_event(refusal(start + 3600), every_s=3600))
    texts = [r.body["text"] for r in services.of("telegram.sendMessage")]
    assert len(texts) == 3 and "ETH-USD" in texts[1]


def test_events_left_out_of_the_configuration_are_not_sent(services: ChatServices) -> None:
    out = notifier(services, Waits(), kinds=("exit",)).notify(switch_event("pause", on=True, reason="", ts=NOW))
    assert out == [] and services.received == []


def test_channels_come_from_the_configuration_secrets(services: ChatServices) -> None:
    settings = load_settings(
        env={
            "COINSWARM_NOTIFY__TELEGRAM_BOT_TOKEN": TOKEN,
            "COINSWARM_NOTIFY__TELEGRAM_CHAT_ID": str(CHAT),
            "COINSWARM_NOTIFY__TELEGRAM_API_URL": services.url,
            "COINSWARM_NOTIFY__SLACK_WEBHOOK_URL": services.slack_url(),
        }
    )
    assert settings.notify.enabled
    assert [c.kind for c in channels_from(settings.notify)] == ["telegram", "slack"]
    assert TOKEN not in repr(settings.notify)


def test_a_webhook_url_must_be_https(services: ChatServices) -> None:
    with pytest.raises(ValueError, match="https://"):
        load_settings(env={"COINSWARM_NOTIFY__DISCORD_WEBHOOK_URL": "http://example.com/api/webhooks/1/x"})


def test_a_bad_webhook_url_is_never_quoted() -> None:
    url = "http://hooks.example.com/services/T0/B0/the-hook-secret"
    with pytest.raises(ValueError) as refused:
        load_settings(env={"COINSWARM_NOTIFY__SLACK_WEBHOOK_URL": url})
    assert "the-hook-secret" not in str(refused.value) and "https://" in str(refused.value)
