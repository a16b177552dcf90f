"""SQLite adapter for every storage port: the embedded default.

One file holds a single-machine deployment's hot state, ledger, audit trail and coordination
records (`make run`, a Raspberry Pi, a laptop). It behaves like the cloud adapters: conditional
writes are real, so several processes (or threads) sharing the file race exactly as they would on
DynamoDB, with one winner and `ConflictError` for the rest.

A write that cannot take the file's lock within the busy timeout raises `TransientStoreError`; a file
written by newer code is refused. One instance may be shared by threads. Its connection, transactions
and schema: docs/stores.md.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from coinswarm.adapters.store_rules import check_sequence, check_version, expired
from coinswarm.domain.models import Candle, Decision, LedgerEvent, RiskRejection
from coinswarm.errors import ConflictError, StoreError, TransientStoreError
from coinswarm.ports.coordination import CoordinationStore, IdempotencyRecord, IdempotencyStatus
from coinswarm.ports.history import HistoryStore, episode_keys
from coinswarm.ports.state import JSON, StateStore, Versioned

# Each migration is a list of statements; migration i takes the file from user_version i to i+1.
# Append new migrations at the end; never edit one that has shipped.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE documents (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            version INTEGER NOT NULL,
            expires_ts REAL
        )""",
        "CREATE INDEX documents_expires ON documents (expires_ts) WHERE expires_ts IS NOT NULL",
        """CREATE TABLE candles (
            symbol TEXT NOT NULL,
            timeframe_s INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            open REAL NOT NULL,
            high REAL NOT NULL,
            low REAL NOT NULL,
            close REAL NOT NULL,
            volume REAL NOT NULL,
            PRIMARY KEY (symbol, timeframe_s, ts)
        ) WITHOUT ROWID""",
        """CREATE TABLE ledger (
            stream TEXT NOT NULL,
            seq INTEGER NOT NULL,
            event_id TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL,
            PRIMARY KEY (stream, seq)
        )""",
        """CREATE TABLE projections (
            stream TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            version INTEGER NOT NULL
        )""",
        """CREATE TABLE decisions (
            decision_id TEXT PRIMARY KEY,
            symbol TEXT NOT NULL,
            ts INTEGER NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX decisions_ts ON decisions (ts)",
        "CREATE INDEX decisions_symbol_ts ON decisions (symbol, ts)",
        """CREATE TABLE rejections (
            intent_id TEXT PRIMARY KEY,
            ts INTEGER NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX rejections_ts ON rejections (ts)",
        """CREATE TABLE idempotency (
            key TEXT PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed')),
            result TEXT,
            expires_ts INTEGER NOT NULL
        )""",
        """CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            expires_ts INTEGER NOT NULL
        )""",
    ),
    # 2: an idempotency claim records its owner, so only that worker may complete or abandon it.
    ("ALTER TABLE idempotency ADD COLUMN owner TEXT",),
    # 3: episodes, one per closed trade (the market memory), read by symbol and exit time.
    (
        """CREATE TABLE episodes (
            episode_id TEXT PRIMARY KEY,
            symbol TEXT NOT NULL,
            exit_ts INTEGER NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX episodes_symbol_exit ON episodes (symbol, exit_ts)",
        "CREATE INDEX episodes_exit ON episodes (exit_ts)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
DEFAULT_BUSY_TIMEOUT_MS = 5000
_MAX_TS = 2**63 - 1


Synchronous = Literal["NORMAL", "FULL"]


def synchronous_for(mode: str) -> Synchronous:
    """FULL for a live account's file (no commit may be lost to a power loss), NORMAL otherwise."""
    return "FULL" if mode == "live" else "NORMAL"


class SqliteStore(StateStore, HistoryStore, CoordinationStore):
    """All three storage ports over one SQLite file.

    `now` is the clock for document TTLs (epoch seconds, `time.time` by default; tests inject a
    fake one). Idempotency records and leases use the `now` their callers pass instead.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        now: Callable[[], float] = time.time,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        synchronous: Synchronous = "NORMAL",
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        self.path = Path(path)
        self._synchronous = synchronous
        self._now = now
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = self._open()

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; further calls raise `StoreError`. Closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _translated_errors():
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_ms / 1000,
                isolation_level=None,  # autocommit: transactions are explicit BEGIN IMMEDIATE
                check_same_thread=False,  # shared by threads, serialised by self._lock
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
                conn.execute("PRAGMA foreign_keys = ON")
                _migrate(conn, self.path)
            except BaseException:
                conn.close()
                raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self!r} is closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the file's write lock from its first statement."""
        with self._lock, _translated_errors():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock, _translated_errors():
            return self._connection().execute(sql, params).fetchall()

    # -- StateStore: documents -------------------------------------------------------------------

    def get(self, key: str) -> Versioned | None:
        rows = self._query(
            "SELECT value, version FROM documents WHERE key = ? AND (expires_ts IS NULL OR expires_ts > ?)",
            (key, self._now()),
        )
        return Versioned(json.loads(rows[0][0]), rows[0][1]) if rows else None

    def put(self, key: str, value: JSON, *, expected_version: int | None = None, ttl_s: int | None = None) -> int:
        body = json.dumps(value)
        with self._transaction() as conn:
            now = self._now()
            row = conn.execute("SELECT version, expires_ts FROM documents WHERE key = ?", (key,)).fetchone()
            current = 0 if row is None or expired(row[1], now) else int(row[0])
            check_version(f"document {key!r}", expected_version, current)
            conn.execute(
                "INSERT INTO documents (key, value, version, expires_ts) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET "
                "value = excluded.value, version = excluded.version, expires_ts = excluded.expires_ts",
                (key, body, current + 1, None if ttl_s is None else now + ttl_s),
            )
        return current + 1

    def delete(self, key: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM documents WHERE key = ?", (key,))

    def purge_expired(self) -> int:
        """Delete documents whose TTL has passed (they already read as absent). Returns how many."""
        with self._transaction() as conn:
            cur = conn.execute("DELETE FROM documents WHERE expires_ts <= ?", (self._now(),))
            return cur.rowcount

    # -- StateStore: candles ---------------------------------------------------------------------

    def put_candles(self, candles: Sequence[Candle]) -> int:
        if not candles:
            return 0
        rows = [(c.symbol, c.timeframe_s, c.ts, c.open, c.high, c.low, c.close, c.volume) for c in candles]
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO candles (symbol, timeframe_s, ts, open, high, low, close, volume) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

    def recent_candles(self, symbol: str, timeframe_s: int, limit: int, *, until_ts: int | None = None) -> list[Candle]:
        if limit <= 0:
            return []
        rows = self._query(
            "SELECT ts, open, high, low, close, volume FROM candles "
            "WHERE symbol = ? AND timeframe_s = ? AND ts <= ? ORDER BY ts DESC LIMIT ?",
            (symbol, timeframe_s, _MAX_TS if until_ts is None else until_ts, limit),
        )
        return [
            Candle(symbol=symbol, timeframe_s=timeframe_s, ts=ts, open=o, high=h, low=lo, close=c, volume=v)
            for ts, o, h, lo, c, v in reversed(rows)
        ]

    def last_candle_ts(self, symbol: str, timeframe_s: int) -> int | None:
        rows = self._query("SELECT MAX(ts) FROM candles WHERE symbol = ? AND timeframe_s = ?", (symbol, timeframe_s))
        return None if rows[0][0] is None else int(rows[0][0])

    # -- HistoryStore: ledger --------------------------------------------------------------------

    def append(self, stream: str, events: Sequence[LedgerEvent]) -> None:
        if not events:
            return
        rows = [(e.stream, e.seq, e.event_id, e.model_dump_json()) for e in events]
        with self._transaction() as conn:
            check_sequence(stream, events, _last_seq(conn, stream))
            try:
                conn.executemany("INSERT INTO ledger (stream, seq, event_id, body) VALUES (?, ?, ?, ?)", rows)
            except sqlite3.IntegrityError as e:
                ids = ", ".join(repr(event.event_id) for event in events)
                raise ConflictError(f"ledger stream {stream!r}: an event id among {ids} exists") from e

    def read(self, stream: str, after_seq: int = 0) -> list[LedgerEvent]:
        rows = self._query("SELECT body FROM ledger WHERE stream = ? AND seq > ? ORDER BY seq", (stream, after_seq))
        return [LedgerEvent.model_validate_json(body) for (body,) in rows]

    def last_seq(self, stream: str) -> int:
        with self._lock, _translated_errors():
            return _last_seq(self._connection(), stream)

    # -- HistoryStore: projections ---------------------------------------------------------------

    def get_projection(self, stream: str) -> Versioned | None:
        rows = self._query("SELECT value, version FROM projections WHERE stream = ?", (stream,))
        return Versioned(json.loads(rows[0][0]), rows[0][1]) if rows else None

    def put_projection(self, stream: str, value: JSON, *, expected_version: int) -> int:
        body = json.dumps(value)
        with self._transaction() as conn:
            if expected_version == 0:
                cur = conn.execute(
                    "INSERT INTO projections (stream, value, version) VALUES (?, ?, 1) ON CONFLICT (stream) DO NOTHING",
                    (stream, body),
                )
            else:
                cur = conn.execute(
                    "UPDATE projections SET value = ?, version = version + 1 WHERE stream = ? AND version = ?",
                    (body, stream, expected_version),
                )
            if cur.rowcount != 1:
                raise ConflictError(f"projection {stream!r} is no longer at version {expected_version}; read it again")
        return expected_version + 1

    # -- HistoryStore: decisions and rejections --------------------------------------------------

    def record_decision(self, decision: Decision) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO decisions (decision_id, symbol, ts, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (decision_id) DO NOTHING",
                (decision.decision_id, decision.symbol, decision.ts, decision.model_dump_json()),
            )

    def recent_decisions(self, limit: int, symbol: str | None = None) -> list[Decision]:
        if limit <= 0:
            return []
        if symbol is None:
            rows = self._query("SELECT body FROM decisions ORDER BY ts DESC, rowid DESC LIMIT ?", (limit,))
        else:
            rows = self._query(
                "SELECT body FROM decisions WHERE symbol = ? ORDER BY ts DESC, rowid DESC LIMIT ?",
                (symbol, limit),
            )
        return [Decision.model_validate_json(body) for (body,) in rows]

    # -- HistoryStore: episodes --------------------------------------------------------------------

    def record_episode(self, episode: Mapping[str, Any]) -> None:
        episode_id, symbol, exit_ts = episode_keys(episode)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO episodes (episode_id, symbol, exit_ts, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (episode_id) DO NOTHING",
                (episode_id, symbol, exit_ts, json.dumps(dict(episode))),
            )

    def episodes(
        self, *, symbol: str | None = None, since_ts: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        where, params = "exit_ts >= ?", list[Any]([since_ts])
        if symbol is not None:
            where, params = where + " AND symbol = ?", [*params, symbol]
        sql = f"SELECT body FROM episodes WHERE {where} ORDER BY exit_ts DESC, episode_id DESC"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        rows = self._query(sql, params)
        return [json.loads(r[0]) for r in reversed(rows)]

    def record_rejection(self, rejection: RiskRejection) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO rejections (intent_id, ts, body) VALUES (?, ?, ?) ON CONFLICT (intent_id) DO NOTHING",
                (rejection.intent_id, rejection.ts, rejection.model_dump_json()),
            )

    def recent_rejections(self, limit: int) -> list[RiskRejection]:
        if limit <= 0:
            return []
        rows = self._query("SELECT body FROM rejections ORDER BY ts DESC, rowid DESC LIMIT ?", (limit,))
        return [RiskRejection.model_validate_json(body) for (body,) in rows]

    # -- CoordinationStore: idempotency ----------------------------------------------------------

    def begin(self, key: str, *, owner: str, now: int, in_progress_ttl_s: int) -> IdempotencyRecord | None:
        with self._transaction() as conn:
            row = conn.execute("SELECT status, result, expires_ts FROM idempotency WHERE key = ?", (key,)).fetchone()
            if row is not None and row[2] > now:
                status, result, expires_ts = row
                return IdempotencyRecord(
                    key, IdempotencyStatus(status), None if result is None else json.loads(result), expires_ts
                )
            conn.execute(
                "INSERT INTO idempotency (key, status, result, expires_ts, owner) VALUES (?, ?, NULL, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET "
                "status = excluded.status, result = NULL, expires_ts = excluded.expires_ts, owner = excluded.owner",
                (key, IdempotencyStatus.IN_PROGRESS.value, now + in_progress_ttl_s, owner),
            )
            return None

    def complete(self, key: str, result: JSON, *, owner: str, now: int, ttl_s: int) -> None:
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE idempotency SET status = ?, result = ?, expires_ts = ?, owner = NULL "
                "WHERE key = ? AND status = ? AND owner = ?",
                (
                    IdempotencyStatus.COMPLETED.value,
                    json.dumps(result),
                    now + ttl_s,
                    key,
                    IdempotencyStatus.IN_PROGRESS.value,
                    owner,
                ),
            )
            if cur.rowcount != 1:
                raise ConflictError(f"idempotency key {key!r} is not claimed by {owner!r}")

    def abandon(self, key: str, *, owner: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM idempotency WHERE key = ? AND status = ? AND owner = ?",
                (key, IdempotencyStatus.IN_PROGRESS.value, owner),
            )

    def drop_claims_in_progress(self) -> int:
        """Drop every IN_PROGRESS claim; how many there were. Only for the one process that knows no
        other can hold a claim in this file: `coinswarm run` holding the file's lock (coinswarm.cli.
        state_lock), whose claims are left only by a run that died during a cycle. A replay dates its
        claims in replay time, so such a claim would never expire for the run that resumes it; dropped,
        its work is taken over as an expired claim's is (an order sent is found by its id first)."""
        with self._transaction() as conn:
            cur = conn.execute("DELETE FROM idempotency WHERE status = ?", (IdempotencyStatus.IN_PROGRESS.value,))
            return cur.rowcount

    # -- CoordinationStore: leases ---------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, *, now: int, ttl_s: int) -> bool:
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO leases (name, owner, expires_ts) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_ts = excluded.expires_ts "
                "WHERE leases.owner = excluded.owner OR leases.expires_ts <= ?",
                (name, owner, now + ttl_s, now),
            )
            return cur.rowcount == 1

    def release_lease(self, name: str, owner: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))


# -- helpers -------------------------------------------------------------------------------------


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file to SCHEMA_VERSION in one transaction, or refuse a file from newer code."""
    if _user_version(conn, path) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = _user_version(conn, path)  # again, under the write lock: another process may have migrated
        for statements in MIGRATIONS[found:]:
            for sql in statements:
                conn.execute(sql)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _user_version(conn: sqlite3.Connection, path: Path) -> int:
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {found}, but this version of Coinswarm supports up to "
            f"{SCHEMA_VERSION}; upgrade Coinswarm to open it"
        )
    return found


def _last_seq(conn: sqlite3.Connection, stream: str) -> int:
    row = conn.execute("SELECT MAX(seq) FROM ledger WHERE stream = ?", (stream,)).fetchone()
    return 0 if row[0] is None else int(row[0])


@contextmanager
def _translated_errors() -> Iterator[None]:
    """sqlite3's exceptions as the ports' errors: busy/locked is transient, the rest is not."""
    try:
        yield
    except sqlite3.IntegrityError as e:
        raise ConflictError(str(e)) from e
    except sqlite3.OperationalError as e:
        if e.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise TransientStoreError(f"the database is busy: {e}") from e
        raise StoreError(str(e)) from e
    except sqlite3.Error as e:
        raise StoreError(str(e)) from e
