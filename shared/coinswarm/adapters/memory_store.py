"""In-process adapter for every storage port: what backtests (and single-process tools) run on.

It is a real adapter with the same contract as the SQLite and cloud ones (conditional writes,
ledger sequence checks, TTLs, idempotency and leases), built for speed: plain dicts and lists,
models kept as the (frozen) objects themselves, nothing serialised. A 500,000-bar backtest calls
it millions of times.

* Documents, projections and idempotency results are JSON dicts: the store keeps a shallow copy of
  what it is given and hands out shallow copies, so a caller mutating its dict afterwards (or the
  one it read) changes nothing stored. Nested containers are shared; do not mutate them in place.
* `max_decisions` bounds the audit trail: only the newest N decisions (by `ts`) are kept, so a long
  backtest does not hold one Decision per bar. An evicted decision's id is forgotten too, so
  recording it again would keep it again. `None` (the default) keeps every decision.
* Document TTLs use the injectable `now` clock (`time.time` by default; a backtest passes its
  simulated clock). Idempotency records and leases use the `now` their callers pass.
* One lock makes every method atomic, so an instance may be shared by threads (a document read takes
  none: it reads one immutable entry).
"""

from __future__ import annotations

import copy
import threading
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from typing import Any, Generic, TypeVar

from coinswarm.adapters.store_rules import check_sequence, check_version, expired
from coinswarm.domain.models import Candle, Decision, LedgerEvent, RiskRejection
from coinswarm.errors import ConflictError
from coinswarm.ports.coordination import CoordinationStore, IdempotencyRecord, IdempotencyStatus
from coinswarm.ports.history import HistoryStore, episode_keys
from coinswarm.ports.state import JSON, StateStore, Versioned

T = TypeVar("T")
IN_PROGRESS, COMPLETED = IdempotencyStatus.IN_PROGRESS, IdempotencyStatus.COMPLETED


class MemoryStore(StateStore, HistoryStore, CoordinationStore):
    """All three storage ports in process memory. See the module docstring for the options."""

    def __init__(self, max_decisions: int | None = None, *, now: Callable[[], float] = time.time) -> None:
        if max_decisions is not None and max_decisions < 1:
            raise ValueError(f"max_decisions must be at least 1 (or None for no bound), not {max_decisions}")
        self.max_decisions = max_decisions
        self._now = now
        self._lock = threading.Lock()
        self._documents: dict[str, tuple[JSON, int, float | None]] = {}  # value, version, expires_ts
        self._candles: dict[tuple[str, int], _CandleSeries] = {}
        self._ledger: dict[str, list[LedgerEvent]] = {}
        self._event_ids: set[str] = set()
        self._projections: dict[str, tuple[JSON, int]] = {}
        self._decisions: _Timeline[Decision] = _Timeline(max_decisions)
        self._rejections: _Timeline[RiskRejection] = _Timeline(None)
        self._episodes: dict[str, dict[str, Any]] = {}
        # key -> status, result, expires_ts, and the owner of an IN_PROGRESS claim (a record is built when asked)
        self._idempotency: dict[str, tuple[IdempotencyStatus, JSON | None, int, str | None]] = {}
        self._leases: dict[str, tuple[str, int]] = {}  # owner, expires_ts

    def __repr__(self) -> str:
        return f"MemoryStore(max_decisions={self.max_decisions})"

    # -- StateStore: documents -------------------------------------------------------------------

    def get(self, key: str) -> Versioned | None:
        # No lock: a stored document is a tuple never changed in place (put and delete swap it whole), so
        # this one dict read sees either the old or the new one, as a read under the lock would.
        doc = self._documents.get(key)
        if doc is None or (doc[2] is not None and expired(doc[2], self._now())):
            return None
        return Versioned(doc[0].copy(), doc[1])

    def put(self, key: str, value: JSON, *, expected_version: int | None = None, ttl_s: int | None = None) -> int:
        with self._lock:
            doc = self._documents.get(key)
            if doc is None or doc[2] is None:  # no expiry to check (the usual document)
                now = 0.0 if ttl_s is None else self._now()
                current = 0 if doc is None else doc[1]
            else:
                now = self._now()
                current = 0 if expired(doc[2], now) else doc[1]
            if expected_version is not None and expected_version != current:
                check_version(f"document {key!r}", expected_version, current)
            self._documents[key] = (dict(value), current + 1, None if ttl_s is None else now + ttl_s)
            return current + 1

    def delete(self, key: str) -> None:
        with self._lock:
            self._documents.pop(key, None)

    def purge_expired(self) -> int:
        """Drop documents whose TTL has passed (they already read as absent). Returns how many."""
        with self._lock:
            now = self._now()
            gone = [key for key, doc in self._documents.items() if expired(doc[2], now)]
            for key in gone:
                del self._documents[key]
            return len(gone)

    # -- StateStore: candles ---------------------------------------------------------------------

    def put_candles(self, candles: Sequence[Candle]) -> int:
        added = 0
        with self._lock:
            if candles:  # the usual call: one series' next candles, in order, appended in one go
                first = candles[0]
                series = self._candles.get((first.symbol, first.timeframe_s))
                if series is not None and series.extend(candles):
                    return len(candles)
            for candle in candles:
                series = self._candles.get((candle.symbol, candle.timeframe_s))
                if series is None:
                    series = self._candles[(candle.symbol, candle.timeframe_s)] = _CandleSeries()
                added += series.add(candle)
        return added

    def recent_candles(self, symbol: str, timeframe_s: int, limit: int, *, until_ts: int | None = None) -> list[Candle]:
        with self._lock:
            series = self._candles.get((symbol, timeframe_s))
            return [] if series is None else series.recent(limit, until_ts)

    def last_candle_ts(self, symbol: str, timeframe_s: int) -> int | None:
        with self._lock:
            series = self._candles.get((symbol, timeframe_s))
            return series.ts[-1] if series is not None and series.ts else None

    # -- HistoryStore: ledger --------------------------------------------------------------------

    def append(self, stream: str, events: Sequence[LedgerEvent]) -> None:
        if not events:
            return
        with self._lock:
            log = self._ledger.get(stream)
            check_sequence(stream, events, 0 if not log else log[-1].seq)
            self._check_new_event_ids(stream, events)
            if log is None:
                log = self._ledger[stream] = []
            log.extend(events)
            ids = self._event_ids
            for event in events:
                ids.add(event.event_id)

    def _check_new_event_ids(self, stream: str, events: Sequence[LedgerEvent]) -> None:
        seen: set[str] = set()
        for event in events:
            if event.event_id in self._event_ids or event.event_id in seen:
                raise ConflictError(f"ledger stream {stream!r}: event id {event.event_id!r} already exists")
            seen.add(event.event_id)

    def read(self, stream: str, after_seq: int = 0) -> list[LedgerEvent]:
        with self._lock:
            # Sequence numbers run 1, 2, 3, ... so the event with seq n sits at index n - 1.
            return self._ledger.get(stream, [])[max(after_seq, 0) :]

    def last_seq(self, stream: str) -> int:
        with self._lock:
            log = self._ledger.get(stream)
            return log[-1].seq if log else 0

    # -- HistoryStore: projections ---------------------------------------------------------------

    def get_projection(self, stream: str) -> Versioned | None:
        with self._lock:
            stored = self._projections.get(stream)
            return None if stored is None else Versioned(dict(stored[0]), stored[1])

    def put_projection(self, stream: str, value: JSON, *, expected_version: int) -> int:
        with self._lock:
            stored = self._projections.get(stream)
            check_version(f"projection {stream!r}", expected_version, 0 if stored is None else stored[1])
            self._projections[stream] = (dict(value), expected_version + 1)
            return expected_version + 1

    # -- HistoryStore: decisions and rejections --------------------------------------------------

    def record_decision(self, decision: Decision) -> None:
        with self._lock:
            self._decisions.add(decision.decision_id, decision.ts, decision)

    def decision_retention(self) -> int | None:
        return self.max_decisions

    def recent_decisions(self, limit: int, symbol: str | None = None) -> list[Decision]:
        with self._lock:
            if symbol is None:
                return self._decisions.newest(limit)
            return self._decisions.newest(limit, lambda d: d.symbol == symbol)

    def record_rejection(self, rejection: RiskRejection) -> None:
        with self._lock:
            self._rejections.add(rejection.intent_id, rejection.ts, rejection)

    def recent_rejections(self, limit: int) -> list[RiskRejection]:
        with self._lock:
            return self._rejections.newest(limit)

    # -- HistoryStore: episodes --------------------------------------------------------------------

    def record_episode(self, episode: Mapping[str, Any]) -> None:
        episode_id, _, _ = episode_keys(episode)
        with self._lock:
            self._episodes.setdefault(episode_id, copy.deepcopy(dict(episode)))

    def episodes(
        self, *, symbol: str | None = None, since_ts: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            found = [
                copy.deepcopy(e)
                for e in self._episodes.values()
                if e["exit_ts"] >= since_ts and (symbol is None or e["symbol"] == symbol)
            ]
        found.sort(key=lambda e: (e["exit_ts"], e["episode_id"]))
        return found if limit is None else found[max(0, len(found) - limit) :]

    # -- CoordinationStore: idempotency ----------------------------------------------------------

    def begin(self, key: str, *, owner: str, now: int, in_progress_ttl_s: int) -> IdempotencyRecord | None:
        with self._lock:
            record = self._idempotency.get(key)
            if record is not None and record[2] > now:
                status, result, expires_ts, _ = record
                return IdempotencyRecord(key, status, None if result is None else dict(result), expires_ts)
            self._idempotency[key] = (IN_PROGRESS, None, now + in_progress_ttl_s, owner)
            return None

    def complete(self, key: str, result: JSON, *, owner: str, now: int, ttl_s: int) -> None:
        with self._lock:
            record = self._idempotency.get(key)
            if record is None or record[0] is not IN_PROGRESS or record[3] != owner:
                raise ConflictError(f"idempotency key {key!r} is not claimed by {owner!r}")
            self._idempotency[key] = (COMPLETED, dict(result), now + ttl_s, None)

    def abandon(self, key: str, *, owner: str) -> None:
        with self._lock:
            record = self._idempotency.get(key)
            if record is not None and record[0] is IN_PROGRESS and record[3] == owner:
                del self._idempotency[key]

    # -- CoordinationStore: leases ---------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, *, now: int, ttl_s: int) -> bool:
        with self._lock:
            held = self._leases.get(name)
            if held is not None and held[0] != owner and held[1] > now:
                return False
            self._leases[name] = (owner, now + ttl_s)
            return True

    def release_lease(self, name: str, owner: str) -> None:
        with self._lock:
            held = self._leases.get(name)
            if held is not None and held[0] == owner:
                del self._leases[name]


# -- helpers -------------------------------------------------------------------------------------


class _CandleSeries:
    """One symbol and timeframe's candles, sorted by `ts` (parallel lists, so bisect works on ts)."""

    __slots__ = ("bars", "ts")

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.bars: list[Candle] = []

    def add(self, candle: Candle) -> bool:
        """Insert `candle` unless one with its ts is already here. True if it was new."""
        ts = candle.ts
        if not self.ts or ts > self.ts[-1]:  # the usual case: the next bar
            self.ts.append(ts)
            self.bars.append(candle)
            return True
        i = bisect_left(self.ts, ts)
        if self.ts[i] == ts:
            return False
        self.ts.insert(i, ts)
        self.bars.insert(i, candle)
        return True

    def extend(self, candles: Sequence[Candle]) -> bool:
        """Append `candles` if they are all of this series' symbol and timeframe (the first one's), in
        order and newer than every candle here; False (and nothing added) if not."""
        first = candles[0]
        symbol, timeframe_s = first.symbol, first.timeframe_s
        ts = [c.ts for c in candles]
        last = self.ts[-1] if self.ts else None
        if (last is not None and ts[0] <= last) or any(a >= b for a, b in pairwise(ts)):
            return False
        if any(c.symbol != symbol or c.timeframe_s != timeframe_s for c in candles):
            return False
        self.ts.extend(ts)
        self.bars.extend(candles)
        return True

    def recent(self, limit: int, until_ts: int | None) -> list[Candle]:
        if limit <= 0:
            return []
        end = len(self.ts) if until_ts is None else bisect_right(self.ts, until_ts)
        return self.bars[max(end - limit, 0) : end]


class _Timeline(Generic[T]):
    """Records in (ts, arrival) order, one per id, keeping at most `maxlen` of the newest."""

    __slots__ = ("_entries", "_ids", "_maxlen")

    def __init__(self, maxlen: int | None) -> None:
        self._entries: deque[tuple[int, str, T]] = deque()
        self._ids: set[str] = set()
        self._maxlen = maxlen

    def add(self, item_id: str, ts: int, item: T) -> None:
        if item_id in self._ids:
            return
        self._ids.add(item_id)
        entries = self._entries
        i = len(entries)
        while i > 0 and entries[i - 1][0] > ts:  # usually none: records arrive in time order
            i -= 1
        entries.insert(i, (ts, item_id, item))
        if self._maxlen is not None and len(entries) > self._maxlen:
            self._ids.discard(entries.popleft()[1])

    def newest(self, limit: int, match: Callable[[T], bool] | None = None) -> list[T]:
        found: list[T] = []
        if limit <= 0:
            return found
        for _, _, item in reversed(self._entries):
            if match is None or match(item):
                found.append(item)
                if len(found) == limit:
                    break
        return found
