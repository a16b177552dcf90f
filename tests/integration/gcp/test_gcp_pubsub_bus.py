"""PubSubBus: what it publishes (the encoded message, its cycle and topic attributes, on which topic),
that every failure surfaces, and the layout `create_topics` makes, dead letters included, on the
Pub/Sub emulator."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("google.cloud.pubsub_v1", reason="google-cloud-pubsub is not installed (.[gcp])")

from coinswarm.adapters.pubsub_bus import (
    CYCLE_ID_ATTRIBUTE,
    MAX_DELIVERY_ATTEMPTS,
    TOPIC_ATTRIBUTE,
    TOPICS,
    PubSubBus,
    route_for,
)
from coinswarm.stages.messages import (
    CANDLES,
    DECISIONS,
    LOGGED,
    PLACEMENTS,
    SCORES,
    CandlesReady,
    DecisionReady,
    PlacementDone,
    ScoresReady,
    TradesLogged,
    decode,
    encode,
)
from local_http import STOP_POLL_S
from servers.gcloud import pubsub_clients

ROOT = Path(__file__).resolve().parents[3]
PROJECT = "coinswarm-bus"
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout_s: float = 30.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:g} s for {what}")
        time.sleep(0.1)


def pulled(subscriber: Any, subscription: str) -> list[Any]:
    return list(
        subscriber.pull(request={"subscription": subscription, "max_messages": 10}, timeout=5).received_messages
    )


# -- publishing, against a fake client ------------------------------------------------------------------


class FakePublisher:
    """PublisherClient's publish: records what was sent; each future resolves as `outcome` says."""

    def __init__(self, outcome: Callable[[int], Any] = str) -> None:
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []
        self.outcome = outcome

    def publish(self, topic: str, data: bytes, **attributes: str) -> Any:
        self.sent.append((topic, data, attributes))
        future: Future[str] = Future()
        result = self.outcome(len(self.sent))
        if isinstance(result, BaseException):
            future.set_exception(result)
        elif result is not None:
            future.set_result(result)
        return future  # None: never resolves


LOGGED_MSG = TradesLogged(cycle_id="cycle-1", symbol="BTC-USD", appended=1, duplicates=0, seq=7)


def test_publish_sends_the_encoded_message_with_its_cycle_and_topic() -> None:
    publisher = FakePublisher()
    bus = PubSubBus(publisher, project="p", prefix="cs")
    bus.publish(LOGGED, LOGGED_MSG)
    assert publisher.sent == [
        ("projects/p/topics/cs-logged", encode(LOGGED_MSG).encode(), {"cycle_id": "cycle-1", "coinswarm_topic": LOGGED})
    ]
    assert bus.published == 1


def test_publish_many_waits_for_all_and_returns_their_ids() -> None:
    bus = PubSubBus(FakePublisher(lambda n: f"id-{n}"), project="p", prefix="cs")
    assert bus.publish_many([(LOGGED, LOGGED_MSG)] * 3) == ["id-1", "id-2", "id-3"]


def test_a_failed_publish_surfaces_after_every_message_was_waited_for() -> None:
    refused = RuntimeError("permission denied on the topic")
    publisher = FakePublisher(lambda n: refused if n == 2 else str(n))
    bus = PubSubBus(publisher, project="p", prefix="cs")
    with pytest.raises(RuntimeError) as caught:
        bus.publish_many([(LOGGED, LOGGED_MSG)] * 3)
    assert caught.value is refused
    assert len(publisher.sent) == 3 and bus.published == 2


def test_a_publish_that_never_completes_raises_timeout_error() -> None:
    bus = PubSubBus(FakePublisher(lambda n: None), project="p", prefix="cs", timeout_s=0.05)
    with pytest.raises(TimeoutError, match="projects/p/topics/cs-logged"):
        bus.publish(LOGGED, LOGGED_MSG)


def test_subscribe_is_refused_since_pubsub_pushes_to_functions() -> None:
    bus = PubSubBus(FakePublisher(), project="p", prefix="cs")
    with pytest.raises(NotImplementedError, match="push subscription"):
        bus.subscribe(CANDLES, lambda body: [])


def test_topics_lead_each_message_kind_to_the_function_that_consumes_it() -> None:
    kinds = {CandlesReady: CANDLES, ScoresReady: SCORES, DecisionReady: DECISIONS, PlacementDone: PLACEMENTS}
    for kind, topic in kinds.items():
        route = route_for(kind)
        assert route.topic == topic and route.consumer is not None
        entry = (ROOT / "functions" / route.consumer / "gcp.py").read_text()
        assert f"serve(request, {kind.__name__}," in entry  # the function decodes exactly this kind
    assert route_for(TradesLogged).consumer is None


# -- the layout, on the emulator --------------------------------------------------------------------------


@pytest.fixture
def clients(pubsub_emulator: str) -> Iterator[tuple[Any, Any, str]]:
    publisher, subscriber = pubsub_clients(pubsub_emulator)
    prefix = f"bus{uuid.uuid4().hex[:8]}"
    try:
        yield publisher, subscriber, prefix
    finally:
        for sub in subscriber.list_subscriptions(request={"project": f"projects/{PROJECT}"}):
            if sub.name.rsplit("/", 1)[-1].startswith(f"{prefix}-"):
                subscriber.delete_subscription(request={"subscription": sub.name})
        for topic in publisher.list_topics(request={"project": f"projects/{PROJECT}"}):
            if topic.name.rsplit("/", 1)[-1].startswith(f"{prefix}-"):
                publisher.delete_topic(request={"topic": topic.name})
        subscriber.close()
        publisher.stop()


def test_create_topics_makes_each_hop_with_its_dead_letter_topic(clients: tuple[Any, Any, str]) -> None:
    publisher, subscriber, prefix = clients
    bus = PubSubBus(publisher, project=PROJECT, prefix=prefix)
    created = bus.create_topics({CANDLES: "http://127.0.0.1:9/first"}, subscriber=subscriber)
    assert set(created) == {CANDLES, SCORES, DECISIONS, PLACEMENTS}  # nothing consumes `logged` yet
    topics = {t.name.rsplit("/", 1)[-1] for t in publisher.list_topics(request={"project": f"projects/{PROJECT}"})}
    for route in TOPICS:
        assert route.topic_id(prefix) in topics
    pushed = subscriber.get_subscription(request={"subscription": created[CANDLES]})
    assert pushed.push_config.push_endpoint == "http://127.0.0.1:9/first"
    assert pushed.ack_deadline_seconds == 60
    assert pushed.dead_letter_policy.dead_letter_topic == f"projects/{PROJECT}/topics/{prefix}-candles-dead-letters"
    assert pushed.dead_letter_policy.max_delivery_attempts == MAX_DELIVERY_ATTEMPTS == 5
    assert pushed.retry_policy.minimum_backoff.seconds == 10 and pushed.retry_policy.maximum_backoff.seconds == 600
    assert "expiration_policy" in pushed and not pushed.expiration_policy.ttl  # set, and never expires
    pulled = subscriber.get_subscription(request={"subscription": created[SCORES]})
    assert pulled.push_config.push_endpoint == ""  # no endpoint given: a pull subscription
    subscriber.get_subscription(
        request={"subscription": f"projects/{PROJECT}/subscriptions/{prefix}-scores-dead-letters"}
    )

    again = bus.create_topics({CANDLES: "http://127.0.0.1:9/moved"}, subscriber=subscriber)  # a second deploy
    assert again == created
    moved = subscriber.get_subscription(request={"subscription": created[CANDLES]})
    assert moved.push_config.push_endpoint == "http://127.0.0.1:9/moved"


def test_a_published_message_arrives_whole_with_its_attributes(clients: tuple[Any, Any, str]) -> None:
    publisher, subscriber, prefix = clients
    bus = PubSubBus(publisher, project=PROJECT, prefix=prefix)
    created = bus.create_topics(subscriber=subscriber)
    message = ScoresReady(cycle_id=f"cycle-{uuid.uuid4().hex[:6]}", symbol="ETH-USD", scored=())
    bus.publish(SCORES, message)
    received = wait_for(
        "the message",
        lambda: (
            subscriber.pull(request={"subscription": created[SCORES], "max_messages": 10}, timeout=5).received_messages
        ),
    )
    (got,) = [r.message for r in received]
    assert decode(ScoresReady, got.data) == message
    assert dict(got.attributes) == {CYCLE_ID_ATTRIBUTE: message.cycle_id, TOPIC_ATTRIBUTE: SCORES}


def test_a_push_refused_five_times_is_kept_in_the_dead_letter_subscription(clients: tuple[Any, Any, str]) -> None:
    """What a function that raises (HTTP 500) leads to: redelivery, then after five deliveries the
    dead-letter subscription keeps the message for inspection and replay."""
    publisher, subscriber, prefix = clients
    deliveries: list[str] = []

    class Failing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            deliveries.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, args=(STOP_POLL_S,), daemon=True)
    thread.start()
    try:
        bus = PubSubBus(publisher, project=PROJECT, prefix=prefix)
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        bus.create_topics({CANDLES: url}, subscriber=subscriber, retry_backoff_s=(0, 1))
        message = CandlesReady(cycle_id=f"cycle-{uuid.uuid4().hex[:6]}", symbol="BTC-USD", candles=())
        bus.publish(CANDLES, message)
        dead = f"projects/{PROJECT}/subscriptions/{prefix}-candles-dead-letters"
        received = wait_for("the dead letter", lambda: pulled(subscriber, dead), timeout_s=60)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    (got,) = [r.message for r in received]
    assert decode(CandlesReady, got.data) == message
    assert got.attributes[CYCLE_ID_ATTRIBUTE] == message.cycle_id
    assert got.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert len(deliveries) == 5
