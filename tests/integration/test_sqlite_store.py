"""SqliteStore beyond the contract: the file itself, its schema, and real races on it.

The races run threads (each with its own store, and all sharing one) and processes (spawned, so
each has its own interpreter and connection). In every round all racers are released together by
a barrier and try the same three conditional writes; exactly one may win each.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from coinswarm.adapters.sqlite_store import SCHEMA_VERSION, SqliteStore
from coinswarm.domain.models import AccountOpened, Candle, LedgerEvent, RiskRejection, Side
from coinswarm.errors import ConflictError, SequenceConflictError, StoreError, TransientStoreError

NOW = 1_700_000_000
STREAM = "race"


def _event(seq: int, event_id: str) -> LedgerEvent:
    return LedgerEvent(stream=STREAM, seq=seq, event_id=event_id, payload=AccountOpened(cash=1_000.0, ts=NOW + seq))


def _pragma(path: Path, name: str) -> Any:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "deep" / "er" / "coinswarm.db"


# -- the file ------------------------------------------------------------------------------------


def test_the_file_and_its_folders_are_created_in_wal_mode(path: Path) -> None:
    with SqliteStore(path) as store:
        assert store.path == path
        assert path.is_file()
        assert _pragma(path, "journal_mode") == "wal"


def test_the_schema_version_is_recorded(path: Path) -> None:
    SqliteStore(path).close()
    assert SCHEMA_VERSION >= 1
    assert _pragma(path, "user_version") == SCHEMA_VERSION


def test_an_empty_existing_file_is_migrated(path: Path) -> None:
    path.parent.mkdir(parents=True)
    sqlite3.connect(path).close()
    with SqliteStore(path) as store:
        assert store.put("k", {"v": 1}) == 1
    assert _pragma(path, "user_version") == SCHEMA_VERSION


def test_a_file_from_a_newer_version_is_refused(path: Path) -> None:
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError) as caught:
        SqliteStore(path)
    message = str(caught.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"supports up to {SCHEMA_VERSION}" in message
    assert str(path) in message


def test_everything_survives_a_reopen(path: Path) -> None:
    bar = Candle(symbol="BTC-USD", ts=NOW, open=1.0, high=2.0, low=0.5, close=1.5, volume=10.0)
    refused = RiskRejection(intent_id="i1", symbol="BTC-USD", side=Side.SELL, reason="no position", ts=NOW)
    with SqliteStore(path) as store:
        store.put("book", {"cash": 5.0})
        store.put_candles([bar])
        store.append(STREAM, [_event(1, "e1")])
        store.put_projection(STREAM, {"cash": 1_000.0}, expected_version=0)
        store.record_rejection(refused)
        store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=60)
        store.acquire_lease("ingest", "a", now=NOW, ttl_s=60)
    with SqliteStore(path) as store:
        book = store.get("book")
        assert book is not None
        assert (book.value, book.version) == ({"cash": 5.0}, 1)
        assert store.recent_candles("BTC-USD", 60, 5) == [bar]
        assert store.read(STREAM) == [_event(1, "e1")]
        projection = store.get_projection(STREAM)
        assert projection is not None
        assert projection.version == 1
        assert store.recent_rejections(5) == [refused]
        assert store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=60) is not None
        assert store.acquire_lease("ingest", "b", now=NOW, ttl_s=60) is False


def test_a_closed_store_refuses_calls(path: Path) -> None:
    store = SqliteStore(path)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get("k")


def test_a_write_lock_held_too_long_is_a_transient_error(path: Path) -> None:
    with SqliteStore(path, busy_timeout_ms=0) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(TransientStoreError):
                store.put("k", {"v": 1})
            assert store.get("k") is None  # WAL: reads still work while the writer waits
        finally:
            blocker.close()
        assert store.put("k", {"v": 1}) == 1


# -- races -----------------------------------------------------------------------------------------

THREAD_ROUNDS = 25
PROCESS_ROUNDS = 10


def _race(store: SqliteStore, racer: int, round_: int) -> tuple[bool, bool, bool]:
    """One round's three conditional writes; returns which of them this racer won."""
    try:
        store.append(STREAM, [_event(round_ + 1, f"r{round_}-racer{racer}")])
        appended = True
    except SequenceConflictError:
        appended = False
    record = store.begin(f"job-{round_}", owner=f"racer{racer}", now=NOW, in_progress_ttl_s=60)
    leased = store.acquire_lease(f"lease-{round_}", f"racer{racer}", now=NOW, ttl_s=60)
    return appended, record is None, leased


def _assert_one_winner_per_round(path: Path, wins: dict[int, list[tuple[bool, bool, bool]]]) -> None:
    for round_, outcomes in wins.items():
        for kind, name in enumerate(("append", "begin", "lease")):
            assert sum(outcome[kind] for outcome in outcomes) == 1, f"round {round_}: {name} {outcomes}"
    with SqliteStore(path) as store:
        events = store.read(STREAM)
        assert [e.seq for e in events] == list(range(1, len(wins) + 1))
        assert [e.event_id.split("-")[0] for e in events] == [f"r{r}" for r in range(len(wins))]


@pytest.mark.parametrize("sharing", ["a store per thread", "one shared store"])
def test_threads_racing_on_one_file_have_exactly_one_winner(path: Path, sharing: str) -> None:
    racers = 8
    SqliteStore(path).close()
    shared = SqliteStore(path) if sharing == "one shared store" else None
    barrier = threading.Barrier(racers, timeout=30)

    def run(racer: int) -> list[tuple[bool, bool, bool]]:
        store = shared or SqliteStore(path)
        try:
            outcomes = []
            for round_ in range(THREAD_ROUNDS):
                barrier.wait()
                outcomes.append(_race(store, racer, round_))
            return outcomes
        except BaseException:
            barrier.abort()  # release the others at once instead of at the barrier's timeout
            raise
        finally:
            if store is not shared:
                store.close()

    try:
        with ThreadPoolExecutor(max_workers=racers) as pool:
            per_racer = list(pool.map(run, range(racers)))
    finally:
        if shared is not None:
            shared.close()
    wins = {r: [outcomes[r] for outcomes in per_racer] for r in range(THREAD_ROUNDS)}
    _assert_one_winner_per_round(path, wins)


def _process_racer(path: str, racer: int, barrier: Any, results: Any) -> None:
    """A spawned racer with its own interpreter and connection; module-level so the child imports it.

    Reports (racer, outcomes) or (racer, traceback) on `results`.
    """
    try:
        with SqliteStore(path) as store:
            outcomes = []
            for round_ in range(PROCESS_ROUNDS):
                barrier.wait()
                outcomes.append(_race(store, racer, round_))
        results.put((racer, outcomes))
    except BaseException:
        barrier.abort()
        results.put((racer, traceback.format_exc()))


def test_processes_racing_on_one_file_have_exactly_one_winner(path: Path) -> None:
    racers = 4
    SqliteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(racers, timeout=60)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_process_racer, args=(str(path), racer, barrier, results)) for racer in range(racers)
    ]
    for p in processes:
        p.start()
    try:
        reports = dict(results.get(timeout=120) for _ in processes)
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    errors = [report for report in reports.values() if isinstance(report, str)]
    assert not errors, "\n".join(errors)
    assert [p.exitcode for p in processes] == [0] * racers
    wins = {r: [reports[racer][r] for racer in range(racers)] for r in range(PROCESS_ROUNDS)}
    _assert_one_winner_per_round(path, wins)


def test_a_loser_of_an_append_race_gets_a_conflict(path: Path) -> None:
    with SqliteStore(path) as first, SqliteStore(path) as second:
        first.append(STREAM, [_event(1, "mine")])
        with pytest.raises(ConflictError):
            second.append(STREAM, [_event(1, "theirs")])
        assert second.last_seq(STREAM) == 1


def test_a_file_from_schema_version_1_is_migrated_and_keeps_its_data(tmp_path) -> None:
    import sqlite3

    from coinswarm.adapters.sqlite_store import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for sql in MIGRATIONS[0]:
        conn.execute(sql)
    conn.execute(
        "INSERT INTO idempotency (key, status, result, expires_ts) VALUES ('done', 'completed', '{\"a\": 1}', ?)",
        (NOW + 3600,),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with SqliteStore(path) as store:
        record = store.begin("done", owner="w1", now=NOW, in_progress_ttl_s=60)
        assert record is not None and record.result == {"a": 1}
        assert store.begin("new", owner="w1", now=NOW, in_progress_ttl_s=60) is None
        store.complete("new", {"b": 2}, owner="w1", now=NOW, ttl_s=60)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert "owner" in {row[1] for row in conn.execute("PRAGMA table_info(idempotency)")}
    conn.close()
