"""CosmosHistoryStore beyond the contract, on the cosmosdb-server emulator (tests/servers/cosmos.py lists its
gaps and how these tests get around them).

Throttling is injected at the adapter's boundary: `Throttled` wraps a real container proxy and answers
429 a set number of times before it lets calls through to the emulator. Races release their threads
together with a barrier; each thread has a client (and store) of its own, as separate function
instances would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.cosmos.exceptions import CosmosHttpResponseError, CosmosResourceNotFoundError

from coinswarm.adapters.cosmos_history import AUDIT_TTL_S, CONTAINERS, MAX_APPEND, CosmosHistoryStore
from coinswarm.adapters.retry import Backoff
from coinswarm.config.settings import Settings
from coinswarm.domain.models import AccountOpened, Action, Decision, LedgerEvent, RiskRejection, Side, Vote
from coinswarm.errors import ConflictError, SequenceConflictError, StoreError, TransientStoreError
from servers.cosmos import EMULATOR_KEY, CosmosServer, history_store

NOW = 1_700_000_000
STREAM = "account:race"
FAST = Backoff(attempts=4, base_s=0.01, cap_s=0.05)


def event(seq: int, event_id: str | None = None, stream: str = STREAM) -> LedgerEvent:
    return LedgerEvent(
        stream=stream,
        seq=seq,
        event_id=event_id or f"e{seq}",
        payload=AccountOpened(cash=1_000.0 + seq / 3, ts=NOW + seq),
    )


def decision(decision_id: str, ts: int, symbol: str) -> Decision:
    vote = Vote(agent="trend", signal=0.1 + 0.2, confidence=0.7, weight=1.0, reason="ema cross")
    return Decision(
        decision_id=decision_id,
        cycle_id=f"c{ts}",
        symbol=symbol,
        ts=ts,
        action=Action.HOLD,
        signal=0.1 + 0.2,
        confidence=0.7,
        votes=(vote,),
        reason="weak",
    )


class Throttled:
    """A container proxy that answers 429 to the next `pending` calls of `methods`, then delegates."""

    def __init__(self, inner: Any, methods: tuple[str, ...]) -> None:
        self._inner = inner
        self._methods = methods
        self.pending = 0
        self.answered_429 = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._methods:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.pending > 0:
                self.pending -= 1
                self.answered_429 += 1
                raise CosmosHttpResponseError(status_code=429, message="Request rate is large")
            return attr(*args, **kwargs)

        return call


class Failing:
    """A container proxy whose next call of `method` fails with `status`."""

    def __init__(self, inner: Any, method: str, status: int) -> None:
        self._inner, self._method, self._status = inner, method, status

    def __getattr__(self, name: str) -> Any:
        if name == self._method:
            raise CosmosHttpResponseError(status_code=self._status, message=f"injected {self._status}")
        return getattr(self._inner, name)


class Before:
    """A container proxy that runs `hook()` just before each call of `method` reaches the emulator."""

    def __init__(self, inner: Any, method: str, hook: Callable[[], None]) -> None:
        self._inner, self._method, self._hook = inner, method, hook

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._hook()
            return attr(*args, **kwargs)

        return call


def wrapping(container_name: str, wrapper: Callable[[Any], Any]) -> Callable[[str, Any], Any]:
    return lambda name, container: wrapper(container) if name == container_name else container


# -- containers ----------------------------------------------------------------------------------


def test_containers_are_created_once_as_described(cosmos_server: CosmosServer, cosmos_database: str) -> None:
    store = history_store(cosmos_server, cosmos_database)
    store.create_containers()  # again: idempotent
    db = cosmos_server.client.get_database_client(cosmos_database)
    found = {c["id"]: c for c in db.list_containers()}
    assert set(found) == {spec.name for spec in CONTAINERS}
    for spec in CONTAINERS:
        props = found[spec.name]
        assert props["partitionKey"]["paths"] == [spec.partition_key]
        assert props.get("defaultTtl") == spec.default_ttl
        assert props["indexingPolicy"]["excludedPaths"] == [{"path": "/*"}]
    assert found["ledger"]["uniqueKeyPolicy"] == {"uniqueKeys": [{"paths": ["/event_id"]}]}
    assert found["decisions"]["defaultTtl"] == found["rejections"]["defaultTtl"] == AUDIT_TTL_S == 90 * 86_400
    assert "defaultTtl" not in found["ledger"]  # the ledger never expires


def test_audit_records_carry_a_ttl_only_when_one_is_configured(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    default = history_store(cosmos_server, cosmos_database)
    short = history_store(cosmos_server, cosmos_database, audit_ttl_s=3600)
    default.record_decision(decision("d1", NOW, "BTC-USD"))
    short.record_decision(decision("d2", NOW, "BTC-USD"))
    short.record_rejection(
        RiskRejection(intent_id="i1", symbol="ETH-USD", side=Side.BUY, reason="limit", ts=NOW, decision_id="d2")
    )
    db = cosmos_server.client.get_database_client(cosmos_database)
    decisions = db.get_container_client("decisions")
    assert "ttl" not in decisions.read_item("d1", partition_key="BTC-USD")  # the container's 90 days apply
    assert decisions.read_item("d2", partition_key="BTC-USD")["ttl"] == 3600
    assert db.get_container_client("rejections").read_item("i1", partition_key="ETH-USD")["ttl"] == 3600


# -- ledger --------------------------------------------------------------------------------------


def test_a_long_stream_reads_back_whole_and_in_order(cosmos_server: CosmosServer, cosmos_database: str) -> None:
    store = history_store(cosmos_server, cosmos_database)
    events = [event(seq) for seq in range(1, 251)]
    for start in range(0, 250, MAX_APPEND):
        store.append(STREAM, events[start : start + MAX_APPEND])
    assert store.read(STREAM) == events
    assert store.read(STREAM, after_seq=240) == events[240:]
    assert store.last_seq(STREAM) == 250
    with pytest.raises(StoreError, match="at most 100"):
        store.append(STREAM, [event(seq) for seq in range(251, 251 + MAX_APPEND + 1)])
    assert store.last_seq(STREAM) == 250


def test_eight_writers_racing_for_the_next_seq_leave_one_winner_per_round(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    writers = 8
    rounds = 6
    history_store(cosmos_server, cosmos_database)  # the containers
    stores = [history_store(cosmos_server, cosmos_database, client=cosmos_server.new_client()) for _ in range(writers)]
    barrier = threading.Barrier(writers)

    def race(i: int) -> list[str]:
        outcomes = []
        for seq in range(1, rounds + 1):
            barrier.wait()
            try:
                stores[i].append(STREAM, [event(seq, f"r{seq}-w{i}")])
                outcomes.append("won")
            except SequenceConflictError:
                outcomes.append("lost")
            except Exception:
                outcomes.append(traceback.format_exc())
        return outcomes

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(race, range(writers)))
    for r in range(rounds):
        column = [results[i][r] for i in range(writers)]
        assert sorted(column) == ["lost"] * (writers - 1) + ["won"], column
    read = stores[0].read(STREAM)
    assert [e.seq for e in read] == list(range(1, rounds + 1))
    winners = [next(i for i in range(writers) if results[i][seq - 1] == "won") for seq in range(1, rounds + 1)]
    assert [e.event_id for e in read] == [f"r{seq}-w{w}" for seq, w in enumerate(winners, start=1)]


def test_a_batch_refused_by_the_server_writes_none_of_its_events(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    """The server's unique key is the last line: here a writer that bypasses the adapter stores event id
    "dup" (at seq 9) between the adapter's checks and its batch [2, 3 "dup"]; the batch fails on its
    second operation and leaves nothing (gap 2: the emulator's missing rollback is undone on the test side)."""
    raw = cosmos_server.client.get_database_client(cosmos_database)

    def sneak_in() -> None:
        body = event(9, "dup").model_dump(mode="json")
        ledger = raw.get_container_client("ledger")
        ledger.create_item({"id": "000000000009", "stream": STREAM, "seq": 9, "event_id": "dup", "body": body})

    store = history_store(
        cosmos_server, cosmos_database, wrap=wrapping("ledger", lambda c: Before(c, "execute_item_batch", sneak_in))
    )
    store.append(STREAM, [event(1)])
    with pytest.raises(ConflictError, match="'dup' already exists"):
        store.append(STREAM, [event(2), event(3, "dup")])
    with pytest.raises(CosmosResourceNotFoundError):  # event 2 was not kept
        history_store(cosmos_server, cosmos_database)._containers["ledger"].read_item(
            "000000000002", partition_key=STREAM
        )


def test_a_rival_appending_the_same_event_id_first_is_reported_as_a_duplicate(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    """Two appends of one event id (a fill delivered twice) that both pass the adapter's checks: the server
    keeps one, and the loser hears "duplicate" (the ledger then stops), not "sequence taken" (it would retry)."""
    store = history_store(cosmos_server, cosmos_database)
    other = history_store(cosmos_server, cosmos_database, client=cosmos_server.new_client())
    raced = False

    def rival_appends_first() -> None:
        nonlocal raced
        if not raced:
            raced = True
            other.append(STREAM, [event(2, "fill-7")])

    racing = history_store(
        cosmos_server,
        cosmos_database,
        wrap=wrapping("ledger", lambda c: Before(c, "create_item", rival_appends_first)),
    )
    store.append(STREAM, [event(1)])
    with pytest.raises(ConflictError) as caught:  # seq 2 is taken and "fill-7" is in: reported as a duplicate
        racing.append(STREAM, [event(2, "fill-7")])
    assert not isinstance(caught.value, SequenceConflictError)
    assert [e.event_id for e in store.read(STREAM)] == ["e1", "fill-7"]


# -- throttling ----------------------------------------------------------------------------------


def test_throttled_calls_are_retried_with_backoff_and_nothing_is_lost_or_doubled(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    slept: list[float] = []
    proxies: dict[str, Throttled] = {}

    def throttle(name: str, container: Any) -> Any:
        proxies[name] = Throttled(container, ("create_item", "query_items", "read_item", "replace_item"))
        return proxies[name]

    store = history_store(cosmos_server, cosmos_database, wrap=throttle, backoff=FAST, sleep=slept.append)
    for name in ("ledger", "decisions", "projections"):
        proxies[name].pending = 3
    store.append(STREAM, [event(1)])  # its last_seq query is refused three times
    proxies["ledger"].pending = 2
    store.append(STREAM, [event(2)])
    store.record_decision(decision("d1", NOW, "BTC-USD"))  # its create is refused three times
    store.put_projection(STREAM, {"cash": 0.1 + 0.2}, expected_version=0)  # three 429s, then the create
    proxies["projections"].pending = 3
    got = store.get_projection(STREAM)
    assert got is not None and got.value == {"cash": 0.1 + 0.2}
    assert sum(p.answered_429 for p in proxies.values()) == 14
    assert len(slept) == 14 and all(0 <= s <= FAST.cap_s for s in slept)
    assert store.read(STREAM) == [event(1), event(2)]
    assert [d.decision_id for d in store.recent_decisions(10)] == ["d1"]


def test_throttling_past_the_last_attempt_is_a_transient_error_and_writes_nothing(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    slept: list[float] = []
    proxies: dict[str, Throttled] = {}

    def throttle(name: str, container: Any) -> Any:
        proxies[name] = Throttled(container, ("create_item",))
        return proxies[name]

    store = history_store(cosmos_server, cosmos_database, wrap=throttle, backoff=FAST, sleep=slept.append)
    proxies["ledger"].pending = 100
    with pytest.raises(TransientStoreError, match="still throttled after 4 attempts") as caught:
        store.append(STREAM, [event(1)])
    assert isinstance(caught.value.__cause__, CosmosHttpResponseError)
    assert caught.value.__cause__.status_code == 429
    assert len(slept) == FAST.attempts - 1
    assert store.last_seq(STREAM) == 0


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, StoreError), (404, StoreError), (412, ConflictError), (503, TransientStoreError)],
)
def test_other_errors_are_translated_at_once_without_retrying(
    cosmos_server: CosmosServer, cosmos_database: str, status: int, error: type[Exception]
) -> None:
    slept: list[float] = []
    store = history_store(
        cosmos_server,
        cosmos_database,
        wrap=wrapping("ledger", lambda c: Failing(c, "query_items", status)),
        sleep=slept.append,
    )
    with pytest.raises(error) as caught:
        store.last_seq(STREAM)
    assert type(caught.value) is error
    assert str(status) in str(caught.value)
    assert slept == []


# -- projections ---------------------------------------------------------------------------------


def test_two_writers_of_one_projection_version_one_wins(cosmos_server: CosmosServer, cosmos_database: str) -> None:
    a = history_store(cosmos_server, cosmos_database)
    b = history_store(cosmos_server, cosmos_database, client=cosmos_server.new_client())
    assert a.put_projection(STREAM, {"by": "a"}, expected_version=0) == 1
    assert a.put_projection(STREAM, {"by": "a"}, expected_version=1) == 2
    with pytest.raises(ConflictError):
        b.put_projection(STREAM, {"by": "b"}, expected_version=1)
    got = b.get_projection(STREAM)
    assert got is not None and (got.value, got.version) == ({"by": "a"}, 2)


def test_the_etag_refuses_a_write_that_lands_between_the_version_check_and_the_replace(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    a = history_store(cosmos_server, cosmos_database)
    a.put_projection(STREAM, {"by": "a"}, expected_version=0)
    a.put_projection(STREAM, {"by": "a"}, expected_version=1)

    def a_writes_first() -> None:
        a.put_projection(STREAM, {"by": "a", "again": True}, expected_version=2)

    b = history_store(
        cosmos_server,
        cosmos_database,
        client=cosmos_server.new_client(),
        wrap=wrapping("projections", lambda c: Before(c, "replace_item", a_writes_first)),
    )
    with pytest.raises(ConflictError, match="412"):  # b read version 2 and its etag; a wrote 3 before b's replace
        b.put_projection(STREAM, {"by": "b"}, expected_version=2)
    got = a.get_projection(STREAM)
    assert got is not None and (got.value, got.version) == ({"by": "a", "again": True}, 3)


def test_eight_writers_racing_on_a_projection_leave_one_winner_per_round(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    writers, rounds = 8, 5
    history_store(cosmos_server, cosmos_database)
    stores = [history_store(cosmos_server, cosmos_database, client=cosmos_server.new_client()) for _ in range(writers)]
    barrier = threading.Barrier(writers)

    def race(i: int) -> list[bool]:
        won = []
        for version in range(rounds):
            barrier.wait()
            try:
                stores[i].put_projection(STREAM, {"writer": i, "round": version}, expected_version=version)
                won.append(True)
            except ConflictError:
                won.append(False)
        return won

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(race, range(writers)))
    assert [sum(r[v] for r in results) for v in range(rounds)] == [1] * rounds
    got = stores[0].get_projection(STREAM)
    assert got is not None and got.version == rounds and got.value["round"] == rounds - 1


# -- decisions and rejections --------------------------------------------------------------------


def test_decisions_newest_first_per_symbol_and_across_symbols(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    store = history_store(cosmos_server, cosmos_database)
    symbols = ("BTC-USD", "ETH-USD", "SOL-USD")
    recorded = []
    for i in range(30):  # out of time order, with ties on ts across symbols
        d = decision(f"d{i}", NOW + (i * 7) % 11 * 60, symbols[i % 3])
        store.record_decision(d)
        recorded.append(d)
    store.record_decision(recorded[4].model_copy(update={"reason": "redelivered"}))
    order = sorted(range(30), key=lambda i: (recorded[i].ts, i), reverse=True)  # later recorded first on a tie
    newest = [recorded[i] for i in order]
    assert store.recent_decisions(100) == newest
    assert store.recent_decisions(7) == newest[:7]
    assert store.recent_decisions(1) == newest[:1]
    for symbol in symbols:
        mine = [d for d in newest if d.symbol == symbol]
        assert store.recent_decisions(100, symbol) == mine
        assert store.recent_decisions(3, symbol) == mine[:3]
    assert store.recent_decisions(5, "DOGE-USD") == []
    assert store.recent_decisions(10)[0].signal == 0.1 + 0.2  # floats come back exact


def test_ids_that_cosmos_forbids_are_encoded_one_to_one(cosmos_server: CosmosServer, cosmos_database: str) -> None:
    store = history_store(cosmos_server, cosmos_database)
    odd = ["a/b", "a%2Fb", "q?#x\\y", "a b"]
    for i, decision_id in enumerate(odd):
        store.record_decision(decision(decision_id, NOW + i, "BTC-USD"))
        store.record_decision(decision(decision_id, NOW + i, "BTC-USD"))
    assert [d.decision_id for d in store.recent_decisions(10)] == odd[::-1]


def test_rejections_newest_first_across_symbols(cosmos_server: CosmosServer, cosmos_database: str) -> None:
    store = history_store(cosmos_server, cosmos_database)
    for i, (symbol, ts) in enumerate([("BTC-USD", 5), ("ETH-USD", 9), ("SOL-USD", 1), ("BTC-USD", 9)]):
        store.record_rejection(
            RiskRejection(intent_id=f"i{i}", symbol=symbol, side=Side.SELL, reason="limit", ts=NOW + ts)
        )
    assert [r.intent_id for r in store.recent_rejections(10)] == ["i3", "i1", "i0", "i2"]
    assert [r.intent_id for r in store.recent_rejections(2)] == ["i3", "i1"]


# -- configuration, secrets, cold start -----------------------------------------------------------


def _settings(endpoint: str, key: str | None) -> Settings:
    return Settings.model_validate({"azure": {"cosmos_endpoint": endpoint, "cosmos_key": key}})


def _everything_said(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.__cause__)


def test_from_settings_uses_the_azure_section(cosmos_server: CosmosServer, cosmos_database: str) -> None:
    settings = Settings.model_validate(
        {
            "store": {"history": "cosmos"},
            "azure": {
                "cosmos_endpoint": cosmos_server.endpoint,
                "cosmos_key": EMULATOR_KEY,
                "cosmos_database": cosmos_database,
            },
        }
    )
    store = CosmosHistoryStore.from_settings(settings, enable_endpoint_discovery=False)
    try:
        store.create_containers()
        store.append(STREAM, [event(1)])
        assert store.read(STREAM) == [event(1)]
        assert store.database_name == cosmos_database
        assert EMULATOR_KEY not in repr(store) and EMULATOR_KEY not in str(store)
        assert store._client is not None  # the SDK's own throttling retries are off: with_backoff owns them
        assert store._client.client_connection.connection_policy.RetryOptions.MaxRetryAttemptCount == 0
        assert cosmos_database in [db["id"] for db in cosmos_server.client.list_databases()]
    finally:
        store.close()


def test_from_settings_never_says_the_key(cosmos_server: CosmosServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(TransientStoreError) as unreachable:
        CosmosHistoryStore.from_settings(
            _settings(f"http://127.0.0.1:{closed_port}", EMULATOR_KEY), enable_endpoint_discovery=False
        )
    assert EMULATOR_KEY not in _everything_said(unreachable.value)

    not_a_key = "s3cret-but-not-base64!"
    with pytest.raises(StoreError, match="not a Cosmos DB account key") as bad_key:
        CosmosHistoryStore.from_settings(_settings(cosmos_server.endpoint, not_a_key), enable_endpoint_discovery=False)
    assert not_a_key not in _everything_said(bad_key.value)

    with pytest.raises(StoreError, match="cosmos_key"):
        CosmosHistoryStore.from_settings(_settings(cosmos_server.endpoint, None))


def test_a_missing_emulator_skips_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import servers.cosmos

    monkeypatch.setattr(servers.cosmos, "COSMOS_BIN", tmp_path / "cosmosdb-server")
    monkeypatch.delenv("REQUIRE_LOCAL_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make servers"):
        servers.cosmos._start(deque())


def test_a_missing_emulator_fails_where_servers_are_required(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import servers.cosmos

    monkeypatch.setattr(servers.cosmos, "COSMOS_BIN", tmp_path / "cosmosdb-server")
    monkeypatch.setenv("REQUIRE_LOCAL_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="make servers"):
        servers.cosmos._start(deque())


def test_importing_the_adapter_loads_no_other_cloud_sdk() -> None:
    # (functions-framework's .pth creates empty `google` namespace stubs at start-up: count what the import adds)
    code = (
        "import sys; before = set(sys.modules); import coinswarm.adapters.cosmos_history; "
        "added = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('boto3', 'botocore', 'google')); "
        "assert not added, added; "
        "assert 'azure.cosmos' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
