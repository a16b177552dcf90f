"""FirestoreStore beyond the contract, on the gcloud Firestore emulator: throttling retried with backoff,
real races with exactly one winner, exact floats and odd keys, the configuration, and a cold start that
loads no other cloud's SDK. Last, a smoke test of the Pub/Sub emulator fixture (for the Pub/Sub bus).

Throttling is injected at the adapter's boundary with Google: a real client on the emulator whose RPC stub
(the one object every Firestore call goes through) fails the next N calls of chosen methods with the
error Firestore would send, then passes them on. Retries sleep through an injected `sleep`: nothing waits.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.types import BatchWriteResponse
from google.rpc import code_pb2, status_pb2

from coinswarm.adapters.firestore_store import INDEXES, FirestoreStore, collection_names
from coinswarm.adapters.retry import Backoff
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle
from coinswarm.errors import ConflictError, StoreError, TransientStoreError
from coinswarm.ports.coordination import IdempotencyStatus
from coinswarm.wiring.bootstrap import open_stores
from servers.gcloud import PROJECT, firestore_client, pubsub_clients

NOW = 1_700_000_000
RACERS = 8
POLICY = Backoff(attempts=4, base_s=0.01, cap_s=1.0)


def _prefix() -> str:
    return f"it-{uuid.uuid4().hex[:16]}"


def candle(ts: int, close: float = 100.0, symbol: str = "BTC-USD") -> Candle:
    return Candle(symbol=symbol, ts=ts, open=close, high=close + 1, low=close - 1, close=close, volume=2.5)


# -- throttling at the boundary ------------------------------------------------------------------


@dataclass
class Throttle:
    """Fail the next `times` calls of `methods` with `error`: before passing the call on (the server
    refused it), or, with `after`, once the call is done (it landed, but its answer was lost)."""

    methods: frozenset[str] = frozenset()
    times: int = 0
    error: type[gexc.GoogleAPICallError] = gexc.ResourceExhausted
    after: bool = False
    thrown: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(
        self,
        *methods: str,
        times: int = 0,
        error: type[gexc.GoogleAPICallError] = gexc.ResourceExhausted,
        after: bool = False,
    ) -> None:
        with self.lock:
            self.methods, self.times, self.error, self.after = frozenset(methods), times, error, after

    def take(self, name: str) -> bool:
        with self.lock:
            if name in self.methods and self.times > 0:
                self.times -= 1
                self.thrown.append(name)
                return True
            return False

    def wrap(self, api: Any) -> Any:
        return _ThrottledApi(api, self)


class _ThrottledApi:
    """The client's RPC stub (a GAPIC FirestoreClient), with a Throttle in front of it."""

    def __init__(self, api: Any, throttle: Throttle) -> None:
        self._api = api
        self._throttle = throttle

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._api, name)
        if name not in self._throttle.methods:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self._throttle.take(name):
                return real(*args, **kwargs)
            if self._throttle.after:
                real(*args, **kwargs)
            raise self._throttle.error(f"{name}: injected by the test")

        return call


class WrappedClient(firestore.Client):
    """A real client on the emulator whose RPC stub, the one object every Firestore call goes through,
    is wrapped by `wrap` (when set)."""

    wrap: Callable[[Any], Any] | None = None

    @property
    def _firestore_api(self) -> Any:
        api = super()._firestore_api
        return api if self.wrap is None else self.wrap(api)


@pytest.fixture
def throttle() -> Throttle:
    return Throttle()


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def client(firestore_emulator: str, throttle: Throttle) -> WrappedClient:
    client: WrappedClient = firestore_client(firestore_emulator, client_class=WrappedClient)
    client.wrap = throttle.wrap
    return client


@pytest.fixture
def store(client: WrappedClient, slept: list[float]) -> FirestoreStore:
    return FirestoreStore(client, _prefix(), sleep=slept.append, backoff=POLICY, rng=lambda: 1.0, now=lambda: NOW)


@pytest.mark.parametrize("error", [gexc.ResourceExhausted, gexc.ServiceUnavailable, gexc.DeadlineExceeded])
def test_throttled_reads_and_writes_are_retried_with_backoff(
    store: FirestoreStore, throttle: Throttle, slept: list[float], error: type[gexc.GoogleAPICallError]
) -> None:
    throttle.arm("commit", times=2, error=error)
    assert store.put("book", {"cash": 1.5}) == 1
    throttle.arm("commit", times=3, error=error)
    assert store.put("book", {"cash": 2.5}, expected_version=1) == 2
    throttle.arm("batch_get_documents", times=3, error=error)
    got = store.get("book")
    assert got is not None and (got.value, got.version) == ({"cash": 2.5}, 2)
    assert throttle.thrown == ["commit"] * 5 + ["batch_get_documents"] * 3
    assert slept == pytest.approx([0.01, 0.02] + [0.01, 0.02, 0.04] * 2)


def test_throttled_coordination_calls_are_retried(store: FirestoreStore, throttle: Throttle) -> None:
    throttle.arm("commit", "batch_get_documents", times=3)
    assert store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30) is None
    throttle.arm("commit", "batch_get_documents", times=3)
    store.complete("job", {"order": "o1"}, owner="w1", now=NOW, ttl_s=60)
    throttle.arm("commit", "batch_get_documents", times=3)
    assert store.acquire_lease("ingest", "a", now=NOW, ttl_s=60) is True
    throttle.arm("commit", "batch_get_documents", times=3)
    store.release_lease("ingest", "a")
    assert len(throttle.thrown) == 12
    record = store.begin("job", owner="w2", now=NOW + 1, in_progress_ttl_s=30)
    assert record is not None and record.result == {"order": "o1"}
    assert store.acquire_lease("ingest", "b", now=NOW, ttl_s=60) is True


def test_throttled_candle_writes_and_queries_are_retried_and_nothing_is_lost(
    store: FirestoreStore, throttle: Throttle, slept: list[float]
) -> None:
    throttle.arm("batch_write", times=3)
    assert store.put_candles([candle(ts) for ts in range(0, 300, 60)]) == 5
    throttle.arm("run_query", times=2, error=gexc.ServiceUnavailable)
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 10)] == [0, 60, 120, 180, 240]
    throttle.arm("run_query", times=1)
    assert store.last_candle_ts("BTC-USD", 60) == 240
    assert len(slept) == 6


def test_candle_writes_throttled_one_by_one_are_retried_alone(
    client: WrappedClient, store: FirestoreStore, slept: list[float]
) -> None:
    """batch_write answers per write: here the first call applies only half and throttles the rest."""
    calls: list[int] = []

    class HalfThrottled:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def batch_write(self, request: dict[str, Any], **kwargs: Any) -> BatchWriteResponse:
            real = self.real
            writes = list(request["writes"])
            calls.append(len(writes))
            if len(calls) > 1:
                response: BatchWriteResponse = real.batch_write(request=request, **kwargs)
                return response
            half = len(writes) // 2
            done = real.batch_write(request={**request, "writes": writes[:half]}, **kwargs)
            refused = [status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message="slow down")] * (len(writes) - half)
            return BatchWriteResponse(
                write_results=[*done.write_results, *([{}] * len(refused))], status=[*done.status, *refused]
            )

    client.wrap = HalfThrottled
    assert store.put_candles([candle(0), *(candle(ts) for ts in range(60, 600, 60))]) == 10
    assert calls == [10, 5]
    assert len(slept) == 1
    client.wrap = None
    assert store.put_candles([candle(ts) for ts in range(0, 660, 60)]) == 1
    assert len(store.recent_candles("BTC-USD", 60, 100)) == 11


def test_throttling_that_outlasts_the_retries_is_a_transient_store_error(
    store: FirestoreStore, throttle: Throttle, slept: list[float]
) -> None:
    throttle.arm("commit", times=100)
    with pytest.raises(TransientStoreError, match="still throttled after 4 attempts"):
        store.put("k", {"v": 1})
    assert len(throttle.thrown) == POLICY.attempts
    assert slept == pytest.approx([0.01, 0.02, 0.04])
    throttle.arm("batch_write", times=100)
    with pytest.raises(TransientStoreError):
        store.put_candles([candle(0)])
    throttle.arm()  # no more throttling: nothing was written, and a retry goes through
    assert store.get("k") is None
    assert store.put("k", {"v": 1}, expected_version=0) == 1
    assert store.put_candles([candle(0)]) == 1


def test_contention_that_outlasts_the_retries_is_a_conflict(store: FirestoreStore, throttle: Throttle) -> None:
    throttle.arm("commit", times=100, error=gexc.Aborted)
    with pytest.raises(ConflictError, match="contended"):
        store.put("k", {"v": 1})
    with pytest.raises(ConflictError):
        store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30)


def test_other_errors_are_not_retried(store: FirestoreStore, throttle: Throttle, slept: list[float]) -> None:
    throttle.arm("batch_get_documents", times=1, error=gexc.PermissionDenied)
    with pytest.raises(StoreError, match="injected") as caught:
        store.get("k")
    assert not isinstance(caught.value, TransientStoreError | ConflictError)
    assert slept == []


def test_a_write_that_landed_but_whose_answer_was_lost_counts_once(store: FirestoreStore, throttle: Throttle) -> None:
    """DeadlineExceeded after the commit went through: the retry's precondition fails on our own write,
    which the adapter recognises instead of reporting a conflict (or writing twice)."""
    calls: tuple[Callable[[], Any], ...] = (
        lambda: store.put("k", {"v": 1}, expected_version=0),
        lambda: store.put("k", {"v": 2}, expected_version=1),
        lambda: store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30),
        lambda: store.acquire_lease("ingest", "a", now=NOW, ttl_s=60),
        lambda: store.release_lease("ingest", "a"),
    )
    for method_call in calls:
        throttle.arm("commit", times=1, error=gexc.DeadlineExceeded, after=True)
        assert method_call() in (1, 2, None, True)
    assert throttle.thrown == ["commit"] * 5
    got = store.get("k")
    assert got is not None and (got.value, got.version) == ({"v": 2}, 2)
    record = store.begin("job", owner="w2", now=NOW + 1, in_progress_ttl_s=30)
    assert record is not None and record.status is IdempotencyStatus.IN_PROGRESS
    assert store.acquire_lease("ingest", "b", now=NOW, ttl_s=60) is True


# -- races -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def racer_clients(firestore_emulator: str) -> list[Any]:
    """One client per racer, as separate function instances would have."""
    return [firestore_client(firestore_emulator) for _ in range(RACERS)]


def _race(clients: list[Any], prefix: str, attempt: Callable[[FirestoreStore, int], Any]) -> list[Any]:
    """Run `attempt` once per racer, all released together; each result, or the exception it raised."""
    stores = [FirestoreStore(client, prefix, now=lambda: NOW) for client in clients]
    start = threading.Barrier(len(stores), timeout=30)

    def run(i: int) -> Any:
        start.wait()
        try:
            return attempt(stores[i], i)
        except ConflictError as e:
            return e

    with ThreadPoolExecutor(len(stores)) as pool:
        return list(pool.map(run, range(len(stores))))


def test_racers_on_one_idempotency_key_have_exactly_one_winner(racer_clients: list[Any]) -> None:
    results = _race(racer_clients, _prefix(), lambda s, i: s.begin("job", owner=f"w{i}", now=NOW, in_progress_ttl_s=30))
    assert results.count(None) == 1
    losers = [r for r in results if r is not None]
    assert all(r.status is IdempotencyStatus.IN_PROGRESS and r.expires_ts == NOW + 30 for r in losers)


def test_racers_for_one_lease_have_exactly_one_winner(racer_clients: list[Any]) -> None:
    results = _race(racer_clients, _prefix(), lambda s, i: s.acquire_lease("ingest", f"w{i}", now=NOW, ttl_s=60))
    assert results.count(True) == 1 and results.count(False) == RACERS - 1


def test_racers_on_one_document_version_have_exactly_one_winner(racer_clients: list[Any]) -> None:
    prefix = _prefix()
    FirestoreStore(racer_clients[0], prefix, now=lambda: NOW).put("book", {"by": None})
    results = _race(racer_clients, prefix, lambda s, i: s.put("book", {"by": i}, expected_version=1))
    winners = [i for i, r in enumerate(results) if r == 2]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for i, r in enumerate(results) if i != winners[0])
    got = FirestoreStore(racer_clients[0], prefix, now=lambda: NOW).get("book")
    assert got is not None and (got.value, got.version) == ({"by": winners[0]}, 2)


def test_racers_creating_one_document_have_exactly_one_winner(racer_clients: list[Any]) -> None:
    results = _race(racer_clients, _prefix(), lambda s, i: s.put("new", {"by": i}, expected_version=0))
    assert results.count(1) == 1
    assert sum(isinstance(r, ConflictError) for r in results) == RACERS - 1


def test_racing_unconditional_writes_all_land_one_after_another(racer_clients: list[Any]) -> None:
    prefix = _prefix()
    results = _race(racer_clients, prefix, lambda s, i: s.put("counter", {"by": i}))
    assert sorted(results) == list(range(1, RACERS + 1))
    got = FirestoreStore(racer_clients[0], prefix).get("counter")
    assert got is not None and got.version == RACERS and got.value == {"by": results.index(RACERS)}


# -- values, keys and the layout -----------------------------------------------------------------


def test_floats_and_json_round_trip_exactly(firestore_session_client: Any) -> None:
    store = FirestoreStore(firestore_session_client, _prefix())
    value = {
        "sum": 0.1 + 0.2,
        "tiny": 5e-324,
        "huge": 1.7976931348623157e308,
        "neg_zero": -0.0,
        "big_int": 2**80,
        "nested": [[1, 2.5], {"3": None}],
        "unicode": "pâper ₿",
    }
    store.put("v", value)
    got = store.get("v")
    assert got is not None and got.value == value
    assert math.copysign(1.0, got.value["neg_zero"]) == -1.0
    # awkward floats within what a candle accepts (finite, positive, below MAX_MARKET_NUMBER)
    odd = Candle(symbol="BTC-USD", ts=60, open=0.1 + 0.2, high=1 / 3, low=5e-324, close=0.1, volume=1e17 / 3)
    bars = [odd, candle(120, close=123_456.789_012_345_6)]
    store.put_candles(bars)
    assert store.recent_candles("BTC-USD", 60, 5) == bars


def test_keys_firestore_would_refuse_as_document_ids_are_kept_apart(firestore_session_client: Any) -> None:
    store = FirestoreStore(firestore_session_client, _prefix())
    keys = ["", ".", "..", "a/b", "a%2Fb", "%", "__x__", "%5F_x__", "_x__", "flags:kill_switch", "€/₿"]
    for i, key in enumerate(keys):
        store.put(key, {"i": i})
        assert store.begin(key, owner="w", now=NOW, in_progress_ttl_s=30) is None
        assert store.acquire_lease(key, "w", now=NOW, ttl_s=30) is True
    for i, key in enumerate(keys):
        got = store.get(key)
        assert got is not None and (got.value, got.version) == ({"i": i}, 1), key


def test_the_collections_and_fields_are_as_documented(firestore_session_client: Any) -> None:
    prefix = _prefix()
    store = FirestoreStore(firestore_session_client, prefix, now=lambda: NOW)
    store.put("flags:kill_switch", {"on": True}, ttl_s=60)
    store.put_candles([candle(NOW)])
    names = collection_names(prefix)
    doc = firestore_session_client.collection(names["documents"]).document("flags:kill_switch").get().to_dict()
    assert doc["key"] == "flags:kill_switch" and doc["version"] == 1 and doc["expires_ts"] == NOW + 60
    assert doc["expires_at"].timestamp() > NOW + 60  # for the TTL policy, with its grace
    bar = firestore_session_client.collection(names["candles"]).document(f"BTC-USD#60#{NOW:012d}").get()
    assert bar.exists and bar.get("close") == 100.0
    (index,) = INDEXES
    assert index.collection == "candles"
    assert [f for f, _ in index.fields] == ["symbol", "timeframe_s", "ts"] and index.fields[-1][1] == "DESCENDING"


# -- configuration and cold start ----------------------------------------------------------------


def test_from_settings_and_the_composition_root(
    firestore_emulator: str, firestore_session_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)  # how a deployment would point at it
    prefix = _prefix()
    settings = Settings.model_validate(
        {
            "gcp": {"project": PROJECT, "collection_prefix": prefix},
            "store": {"state": "firestore", "coordination": "firestore", "path": str(tmp_path / "h.db")},
        }
    )
    store = FirestoreStore.from_settings(settings)
    assert store.collection_prefix == prefix
    assert store.put("k", {"v": 1}) == 1
    found = firestore_session_client.collection(f"{prefix}_documents").document("k").get()
    assert found.exists and found.get("version") == 1

    stores = open_stores(settings)
    assert isinstance(stores.state, FirestoreStore) and stores.coordination is stores.state
    got = stores.state.get("k")
    assert got is not None and got.value == {"v": 1}


def test_importing_the_adapter_loads_no_other_clouds_sdk() -> None:
    code = (
        "import sys, coinswarm.adapters.firestore_store; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'azure')); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the Pub/Sub emulator fixture (for the Pub/Sub bus) ------------------------------------------


@pytest.fixture
def pubsub(pubsub_emulator: str) -> Iterator[tuple[Any, Any]]:
    publisher, subscriber = pubsub_clients(pubsub_emulator)
    yield publisher, subscriber
    publisher.stop()
    publisher.transport.close()
    subscriber.close()


def test_the_pubsub_emulator_delivers_a_message(pubsub: tuple[Any, Any]) -> None:
    publisher, subscriber = pubsub
    name = uuid.uuid4().hex[:12]
    topic = publisher.topic_path(PROJECT, f"t-{name}")
    subscription = subscriber.subscription_path(PROJECT, f"s-{name}")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=10)
    publisher.publish(topic, b'{"cycle": 1}', kind="tick").result(timeout=30)
    response = subscriber.pull(subscription=subscription, max_messages=1, timeout=30)
    (received,) = response.received_messages
    assert received.message.data == b'{"cycle": 1}' and received.message.attributes["kind"] == "tick"
    subscriber.acknowledge(subscription=subscription, ack_ids=[received.ack_id])
