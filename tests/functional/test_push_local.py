"""The push's parts on one machine: the replay cache shared through the store (and why), the wire
envelope, the configuration, and which bus each topic goes to. Receivers are served over real HTTP
by `functions/push_receiver/local.py`; the store is a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from functional_builders import START, series, settings

from coinswarm.adapters.http_push_bus import DeploymentBus, HttpPushBus
from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.config import load_settings
from coinswarm.config.loader import ConfigError
from coinswarm.domain.models import Action
from coinswarm.errors import PermanentBusError
from coinswarm.http.push_wire import BadEnvelopeError, consumed_on, envelope, pushed_from, read_envelope
from coinswarm.http.replay_cache import StoredSeenSignatures
from coinswarm.http.signing import sign
from coinswarm.ports.bus import Bus, Handler
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.messages import DECISIONS, LOGGED, PLACEMENTS, DecidedStep, DecisionReady, Message
from coinswarm.wiring.bootstrap import App
from functions.push_receiver.local import local_receiver, serve

SECRET = "local-push-secret-FAKE-0123456789"


def hold(ts: int, cycle: str = "c-local") -> DecisionReady:
    return DecisionReady(cycle_id=cycle, symbol="BTC-USD", steps=(DecidedStep(ts, Action.HOLD, 0.0, 100.0, ts, 100.0),))


@pytest.fixture
def two_receivers(make_app: Callable[..., tuple[App, SimulatedClock]]) -> Iterator[Callable[[bool], list[str]]]:
    """Two receivers over one App's store, served on loopback; `shared` picks the replay cache."""
    app, _ = make_app(settings(), series(100))
    servers: list[Any] = []

    def start(shared: bool) -> list[str]:
        pair = [serve(local_receiver(app, [SECRET], shared_replay_cache=shared).handle) for _ in range(2)]
        servers.extend(pair)
        return [f"http://127.0.0.1:{s.server_address[1]}/" for s in pair]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("shared", "second_status"), [(True, 401), (False, 200)])
def test_a_replay_to_a_second_instance_is_refused_only_with_the_store_backed_cache(
    two_receivers: Callable[[bool], list[str]], shared: bool, second_status: int
) -> None:
    first, second = two_receivers(shared)
    body = envelope(DECISIONS, hold(START))
    headers = {"Content-Type": "application/json", **sign(SECRET, "POST", "/", body, START)}
    assert httpx.post(first, content=body, headers=headers, timeout=10).status_code == 200
    assert httpx.post(first, content=body, headers=headers, timeout=10).status_code == 401  # each refuses its own
    again = httpx.post(second, content=body, headers=headers, timeout=10)
    assert again.status_code == second_status, again.text  # the per-process cache lets another container pass


def test_the_store_backed_cache_admits_each_signature_once_until_its_window_ends(tmp_path: Path) -> None:
    clock = SimulatedClock(START)
    with SqliteStore(tmp_path / "s.db") as store:
        a, b = StoredSeenSignatures(store, clock), StoredSeenSignatures(store, clock)
        assert a.remember("ab" * 32, START + 300) is True
        assert b.remember("ab" * 32, START + 300) is False
        clock.set(START + 300)  # the window is inclusive
        assert a.remember("ab" * 32, START + 600) is False
        clock.set(START + 302)  # past it (a request that old is refused as stale anyway)
        assert b.remember("ab" * 32, START + 602) is True
        assert a.remember("cd" * 32, START + 602) is True


def test_a_local_push_runs_the_rest_of_the_cycle_on_the_local_mesh(
    make_app: Callable[..., tuple[App, SimulatedClock]],
) -> None:
    app, _ = make_app(settings(), series(100))
    receiver = local_receiver(app, [SECRET])
    published: list[str] = []
    receiver.bus().subscribe(PLACEMENTS, lambda body: published.append(body) or [])
    server = serve(receiver.handle)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        bus = HttpPushBus({DECISIONS: url}, [SECRET], clock=app.clock)
        bus.publish(DECISIONS, hold(START, "c-mesh"))
    finally:
        server.shutdown()
        server.server_close()
    assert len(published) == 1 and '"cycle_id":"c-mesh"' in published[0]  # placement ran, handed on locally


# -- the envelope -------------------------------------------------------------------------------------------


def test_the_envelope_carries_topic_cycle_and_a_fresh_push_id_around_the_encoded_message() -> None:
    message = hold(START, "c-env")
    first, second = read_envelope(envelope(DECISIONS, message)), read_envelope(envelope(DECISIONS, message))
    assert (first.topic, first.cycle_id) == (DECISIONS, "c-env")
    assert first.push_id != second.push_id and first.message == second.message
    assert first.message["steps"][0]["action"] == "hold"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xff", "not UTF-8"),
        (b"[1]", "JSON object"),
        (b'{"topic": "a", "topic": "b"}', "appears twice"),
        (b'{"topic": "decisions", "cycle_id": "c", "push_id": "x", "message": {}}', "push_id must be"),
        (b'{"topic": "decisions", "cycle_id": "c", "message": {}}', "lacks push_id"),
        (b'{"topic": "d", "cycle_id": "c", "push_id": "' + b"a" * 32 + b'", "message": {}, "x": 1}', "unknown field"),
        (b'{"topic": NaN}', "not a number JSON allows"),
    ],
)
def test_a_body_that_is_not_an_envelope_is_refused_saying_why(body: bytes, says: str) -> None:
    with pytest.raises(BadEnvelopeError, match=says):
        read_envelope(body)


# -- configuration and routing ----------------------------------------------------------------------------


def test_push_urls_come_from_the_configuration_and_the_secret_never_does() -> None:
    env = {
        "COINSWARM_PUSH__URLS": '{"placements": "https://push.example.org/"}',
        "COINSWARM_PUSH_SECRET": SECRET,
        "COINSWARM_DEPLOY__PLACEMENT": '{"trade_logging": "gcp"}',
    }
    loaded = load_settings(env=env)
    assert loaded.push.urls == {"placements": "https://push.example.org/"}
    assert SECRET not in loaded.model_dump_json()
    assert pushed_from(loaded.deploy.placement, "aws") == {PLACEMENTS}
    assert consumed_on(loaded.deploy.placement, "gcp") == {PLACEMENTS}
    for bad, says in (
        ('{"placements": "http://push.example.org/"}', "https://"),  # a secret's signature in the clear
        ('{"logged": "https://push.example.org/"}', "placements"),  # no such hop
    ):
        with pytest.raises(ConfigError, match=says):
            load_settings(env={"COINSWARM_PUSH__URLS": bad})


class Recording(Bus):
    def __init__(self) -> None:
        self.topics: list[str] = []

    def subscribe(self, topic: str, handler: Handler) -> None:
        raise NotImplementedError

    def publish(self, topic: str, message: Message) -> None:
        self.topics.append(topic)


def test_the_deployment_bus_pushes_only_the_hops_to_the_other_cloud_and_builds_each_bus_on_first_use() -> None:
    native, push = Recording(), Recording()
    built: list[str] = []

    def make(name: str, bus: Bus) -> Callable[[], Bus]:
        return lambda: built.append(name) or bus

    bus = DeploymentBus(make("native", native), make("push", push), pushed_from({"trade_logging": "gcp"}, "aws"))
    bus.publish(DECISIONS, hold(START))
    assert built == ["native"]
    bus.publish(PLACEMENTS, hold(START))
    bus.publish(LOGGED, hold(START))
    assert (native.topics, push.topics, built) == ([DECISIONS, LOGGED], [PLACEMENTS], ["native", "push"])


def test_the_push_bus_refuses_a_short_secret_and_never_shows_its_secret() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        HttpPushBus({}, ["short"])
    with pytest.raises(TypeError, match="list of secrets"):
        HttpPushBus({}, SECRET)  # type: ignore[arg-type]
    bus = HttpPushBus({}, [SECRET])
    with pytest.raises(PermanentBusError) as missing:
        bus.publish(DECISIONS, hold(START))
    assert SECRET not in repr(bus) and SECRET not in str(missing.value)
