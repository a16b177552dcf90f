"""How a Google Cloud entry point answers a Pub/Sub push, through functions-framework's own app
(`create_app`: its conversion of a push into a CloudEvent and its error handling; Flask's test client
in place of a socket): a push that can never succeed is acknowledged (2xx) with an ERROR line, and a
failure that a retry may cure answers 500, so that Pub/Sub redelivers it and, after five deliveries,
dead-letters it. A push that meets its message's claim in progress (a worker killed mid-run) answers
503 with a WARNING line, never 2xx, until the claim expires and a redelivery takes it over. Also: the
Cloud Scheduler tick's time, and the manual trade secret from Secret Manager.

The container's runtime is built here with fakes where the cloud would be: a bus that records what it
is given, an in-memory store, and (to fail on purpose) a broker whose store is busy.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("functions_framework", reason="functions-framework is not installed (.[gcp])")

from functions_framework import create_app

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.config import ConfigError, Settings, load_settings
from coinswarm.domain.models import Action
from coinswarm.errors import TransientStoreError
from coinswarm.observability.logs import trace_id
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.messages import PLACEMENTS, DecidedStep, DecisionReady, PlacementDone, encode
from functions.gcp_common import (
    Runtime,
    SecretUnavailableError,
    container_settings,
    cycle_tick,
    manual_trade_secrets,
    runtime,
    scheduled_at,
    use_runtime,
)

ROOT = Path(__file__).resolve().parents[3]
PROJECT = "coinswarm-push"
SETTINGS = Settings.model_validate(
    {"market": {"source": "synthetic"}, "symbols": ["BTC-USD"], "gcp": {"project": PROJECT}}
)


class RecordingBus:
    """PubSubBus's publish_many, recorded; raises `fail` instead when given."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.fail = fail

    def publish_many(self, messages: Iterable[tuple[str, Any]]) -> list[str]:
        messages = list(messages)
        if self.fail is not None:
            raise self.fail
        self.sent.extend(messages)
        return [str(i) for i in range(len(messages))]


class BusyBroker:
    """A broker whose store is throttled: what a retry may well cure."""

    applies_exit_rules = False  # as every broker but a backtest's (ports.broker.Broker)

    def has_pending(self, symbol: str) -> bool:
        raise TransientStoreError("the paper book's store is throttled")


class Served:
    def __init__(self, client: Any, stream: io.StringIO, bus: RecordingBus) -> None:
        self.client = client
        self.stream = stream
        self.bus = bus

    def push(self, body: bytes, **attributes: str) -> Any:
        """POST what a Pub/Sub push subscription posts."""
        envelope = {
            "message": {
                "data": base64.b64encode(body).decode(),
                "attributes": attributes,
                "messageId": "4242",
                "publishTime": "2026-01-02T03:04:05.000Z",
            },
            "subscription": f"projects/{PROJECT}/subscriptions/cs-decisions-order-placement",
        }
        return self.client.post("/", json=envelope)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Served]]:
    """`serve(name, bus=..., **build_app overrides)`: the function's app on a fresh container runtime."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # create_app appends the function's folder
    root = logging.getLogger()
    level = root.level

    def start(name: str, signature: str = "cloudevent", *, bus: RecordingBus | None = None, **overrides: Any) -> Served:
        monkeypatch.setenv("FUNCTION_TARGET", name)  # create_app sets it; restored afterwards
        stream, bus = io.StringIO(), bus or RecordingBus()
        use_runtime(Runtime(SETTINGS, bus=bus, log_stream=stream, store=MemoryStore(), **overrides))  # type: ignore[arg-type]
        app = create_app(target=name, source=str(ROOT / "functions" / name / "gcp.py"), signature_type=signature)
        return Served(app.test_client(), stream, bus)

    try:
        yield start
    finally:
        use_runtime(None)
        sys.modules.pop("gcp", None)
        for handler in [h for h in root.handlers if getattr(h, "_coinswarm", False)]:
            root.removeHandler(handler)
        root.setLevel(level)


def hold(cycle: str = "cycle-1") -> DecisionReady:
    return DecisionReady(
        cycle_id=cycle,
        symbol="BTC-USD",
        steps=(DecidedStep(1_800_000_000, Action.HOLD, 0.1, 100.0, 1_800_000_000, 100.0),),
    )


def test_a_valid_push_runs_the_stage_and_publishes_what_it_hands_on(serve: Callable[..., Served]) -> None:
    fn = serve("order_placement")
    reply = fn.push(encode(hold("cycle-ok")).encode(), cycle_id="cycle-ok", coinswarm_topic="decisions")
    assert reply.status_code == 200
    ((topic, done),) = fn.bus.sent
    assert topic == PLACEMENTS and isinstance(done, PlacementDone) and done.cycle_id == "cycle-ok"
    (line,) = fn.lines()
    assert line["severity"] == "INFO" and "handled decisions message 4242" in line["message"]
    assert line["logging.googleapis.com/trace"] == f"projects/{PROJECT}/traces/{trace_id('cycle-ok')}"


@pytest.mark.parametrize(
    ("body", "attributes", "reason"),
    [
        (b"{not json", {}, "not a valid DecisionReady"),
        (b'{"cycle_id": "c", "symbol": "BTC-USD"}', {}, "not a valid DecisionReady: 1 error(s), first at steps"),
        (b'{"cycle_id": "c", "symbol": "BTC-USD", "steps": [], "extra": 1}', {}, "first at extra"),
        (encode(hold()).encode(), {"coinswarm_topic": "candles"}, "published on 'candles'"),
    ],
    ids=["not json", "missing field", "unknown field", "meant for another function"],
)
def test_a_push_that_can_never_succeed_is_acknowledged_with_an_error_line(
    serve: Callable[..., Served], body: bytes, attributes: dict[str, str], reason: str
) -> None:
    fn = serve("order_placement")
    reply = fn.push(body, cycle_id="cycle-bad", **attributes)
    assert reply.status_code == 200  # acknowledged: redelivering it would fail the same way
    assert fn.bus.sent == []
    (line,) = fn.lines()
    assert line["severity"] == "ERROR" and "acknowledged and dropped message 4242" in line["message"]
    assert reason in line["message"]
    assert line["cycle_id"] == "cycle-bad" and line["logging.googleapis.com/trace"].endswith(trace_id("cycle-bad"))


def test_an_event_without_a_readable_pubsub_message_is_acknowledged(serve: Callable[..., Served]) -> None:
    fn = serve("order_placement")
    not_base64 = {"message": {"data": "%%% not base64", "messageId": "7"}, "subscription": "projects/p/subscriptions/s"}
    assert fn.client.post("/", json=not_base64).status_code == 200
    no_message = {  # a CloudEvent (binary mode, as Eventarc sends) whose data is no MessagePublishedData
        "ce-id": "1",
        "ce-source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/cs-decisions",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-specversion": "1.0",
    }
    assert fn.client.post("/", json={"something": "else"}, headers=no_message).status_code == 200
    assert fn.bus.sent == []
    messages = [line["message"] for line in fn.lines() if line["severity"] == "ERROR"]
    assert len(messages) == 2
    assert "its data is not base64" in messages[0] and "carries no Pub/Sub message" in messages[1]


def test_an_eventarc_cloudevent_is_handled_like_a_push(serve: Callable[..., Served]) -> None:
    fn = serve("order_placement")
    data = {
        "message": {
            "data": base64.b64encode(encode(hold("cycle-ce")).encode()).decode(),
            "attributes": {"cycle_id": "cycle-ce", "coinswarm_topic": "decisions"},
            "messageId": "99",
        },
        "subscription": f"projects/{PROJECT}/subscriptions/eventarc-sub",
    }
    headers = {
        "ce-id": "99",
        "ce-source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/cs-decisions",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-specversion": "1.0",
    }
    assert fn.client.post("/", json=data, headers=headers).status_code == 200
    assert [done.cycle_id for _, done in fn.bus.sent] == ["cycle-ce"]


def test_a_failure_a_retry_may_cure_answers_500_so_pubsub_redelivers(serve: Callable[..., Served]) -> None:
    fn = serve("order_placement", broker=BusyBroker())
    reply = fn.push(encode(hold("cycle-busy")).encode(), cycle_id="cycle-busy")
    assert reply.status_code == 500  # not acknowledged: redelivered with backoff, dead-lettered after 5
    assert fn.bus.sent == []
    ours = [line for line in fn.lines() if line.get("cycle_id") == "cycle-busy"]
    assert ours and ours[0]["severity"] == "ERROR" and "will redeliver" in ours[0]["message"]
    assert "TransientStoreError" in ours[0]["message"] and "throttled" in ours[0]["exception"]


def test_a_push_that_meets_a_killed_workers_claim_answers_503_until_the_claim_expires(
    serve: Callable[..., Served],
) -> None:
    clock = SimulatedClock(1_800_000_000)
    fn = serve("order_placement", clock=clock)
    app = runtime().app
    placement, coordination = app.stages.placement, app.coordination
    body = encode(hold("cycle-killed")).encode()

    def killed(symbol: str) -> bool:
        raise SystemExit("the instance was killed mid-run")

    placement.broker.has_pending = killed  # type: ignore[method-assign]
    coordination.abandon = lambda *a, **k: None  # type: ignore[method-assign]  # killed: no `finally` runs
    with pytest.raises(SystemExit):
        fn.push(body, cycle_id="cycle-killed")
    del placement.broker.has_pending, coordination.abandon
    ttl_s = placement.outbox.in_progress_ttl_s
    for after in (1, 10, ttl_s - 1):  # Pub/Sub's redeliveries while the claim holds: not acknowledged
        clock.set(1_800_000_000 + after)
        reply = fn.push(body, cycle_id="cycle-killed")
        assert reply.status_code == 503
    assert fn.bus.sent == []
    lines = fn.lines()
    assert len(lines) == 3 and {line["severity"] for line in lines} == {"WARNING"}
    assert all("another delivery holds this claim" in line["message"] for line in lines)
    assert all("Pub/Sub redelivers it" in line["message"] and "exception" not in line for line in lines)
    assert all(line["cycle_id"] == "cycle-killed" for line in lines)
    clock.set(1_800_000_000 + ttl_s)  # expired: the redelivery takes the claim over and hands on
    assert fn.push(body, cycle_id="cycle-killed").status_code == 200
    [(topic, done)] = fn.bus.sent
    assert topic == PLACEMENTS and done.cycle_id == "cycle-killed"


def test_a_publish_that_fails_answers_500(serve: Callable[..., Served]) -> None:
    fn = serve("order_placement", bus=RecordingBus(fail=TimeoutError("publishing took longer than 20 s")))
    assert fn.push(encode(hold()).encode(), cycle_id="cycle-1").status_code == 500


def test_a_configuration_that_cannot_load_answers_500_and_is_logged(
    serve: Callable[..., Served], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad deployment: every message waits in the dead-letter subscription until it is fixed."""
    use_runtime(None)
    monkeypatch.setenv("COINSWARM_RISK__MAX_DAILY_LOSS", "-5")
    monkeypatch.setenv("FUNCTION_TARGET", "order_placement")
    source = ROOT / "functions" / "order_placement" / "gcp.py"
    app = create_app(target="order_placement", source=str(source), signature_type="cloudevent")
    reply = Served(app.test_client(), io.StringIO(), RecordingBus()).push(encode(hold()).encode())
    assert reply.status_code == 500
    (failure,) = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], ConfigError)]
    assert "risk.max_daily_loss" in str(failure.exc_info[1]) if failure.exc_info else False


# -- the scheduled tick --------------------------------------------------------------------------------


def test_cloud_schedulers_schedule_time_names_the_cycle() -> None:
    assert scheduled_at({"X-CloudScheduler-ScheduleTime": "2026-01-02T03:04:05Z"}) == 1_767_323_045
    assert scheduled_at({"x-cloudscheduler-scheduletime": "2026-01-02T03:04:05.123+00:00"}) == 1_767_323_045
    assert scheduled_at({"X-CloudScheduler-ScheduleTime": "yesterday"}) is None
    assert scheduled_at({}) is None
    tick = cycle_tick(SETTINGS, 1_767_323_045)  # one-minute candles: the one that closed at 03:04:00
    assert (tick.cycle_id, tick.ts, tick.symbols) == ("cycle-1767323040", 1_767_323_040, ("BTC-USD",))


# -- the manual trade secret ---------------------------------------------------------------------------


class FakeSession:
    """AuthorizedSession's get, answering as Secret Manager's REST API does."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        self.status, self.payload, self.asked = status, payload, []

    def get(self, url: str, timeout: float) -> Any:
        self.asked.append(url)
        session = self

        class Response:
            status_code = session.status

            def json(self) -> dict[str, Any]:
                return session.payload

        return Response()


def test_the_manual_trade_secret_comes_from_the_environment_or_secret_manager() -> None:
    env = {"COINSWARM_MANUAL_TRADE_SECRET": "first-secret-0123456789, second-secret-0123456789"}
    assert manual_trade_secrets(SETTINGS, env) == ["first-secret-0123456789", "second-secret-0123456789"]

    session = FakeSession(200, {"name": "x", "payload": {"data": base64.b64encode(b"from-secret-manager").decode()}})
    assert manual_trade_secrets(SETTINGS, {}, session=session) == ["from-secret-manager"]
    assert session.asked == [
        f"https://secretmanager.googleapis.com/v1/projects/{PROJECT}/secrets/manual-trade-secret/versions/latest:access"
    ]
    with pytest.raises(SecretUnavailableError, match="403"):
        manual_trade_secrets(SETTINGS, {}, session=FakeSession(403, {}))


def test_the_secret_variable_is_not_read_as_a_setting() -> None:
    env = {"COINSWARM_MANUAL_TRADE_SECRET": "s" * 32, "COINSWARM_SYMBOLS": "ETH-USD"}
    settings = load_settings(env=env)  # deployment plumbing, not a setting: neither refused nor kept
    assert settings.symbols == ("ETH-USD",)
    assert "s" * 32 not in settings.model_dump_json()
    assert container_settings(env).symbols == ("ETH-USD",)
    with pytest.raises(ConfigError, match="manual_trade_secre"):  # a misspelt one is still refused
        load_settings(env={"COINSWARM_MANUAL_TRADE_SECRE": "x"})
