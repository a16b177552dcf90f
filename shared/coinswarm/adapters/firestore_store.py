"""Firestore adapter for hot state and coordination: the choice for a deployment that lives on Google
alone (`store.state = "firestore"`, `store.coordination = "firestore"`). It keeps the same contract as the
SQLite and in-memory adapters (tests/contract runs it on the gcloud emulator).
Its collections, and why its conditional writes are optimistic: docs/stores.md.

Errors: throttling (ResourceExhausted, ServiceUnavailable, DeadlineExceeded, Aborted) is retried with
backoff (`with_backoff`, injectable `sleep`), then surfaces as TransientStoreError, except contention
(Aborted) on a conditional write, which surfaces as ConflictError; AlreadyExists and FailedPrecondition
outside the race loop are ConflictError; any other Google API error is StoreError.
A write that failed ambiguously (DeadlineExceeded, ServiceUnavailable) and then loses its precondition is
checked against the stored document: if it holds exactly what was written, the write landed.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.bulk_batch import BulkWriteBatch
from google.rpc import code_pb2

from coinswarm.adapters.retry import Backoff, with_backoff
from coinswarm.adapters.store_rules import check_version, expired
from coinswarm.domain.models import Candle
from coinswarm.errors import ConflictError, StoreError, TransientStoreError
from coinswarm.ports.coordination import CoordinationStore, IdempotencyRecord, IdempotencyStatus
from coinswarm.ports.state import JSON, StateStore, Versioned

if TYPE_CHECKING:
    from coinswarm.config.settings import Settings

T = TypeVar("T")

# -- what a deployment must create (read by the Terraform) ---------------------------------------


@dataclass(frozen=True, slots=True)
class CompositeIndex:
    """A composite index on `{prefix}_{collection}` (google_firestore_index), fields in order."""

    collection: str
    fields: tuple[tuple[str, Literal["ASCENDING", "DESCENDING"]], ...]
    query_scope: Literal["COLLECTION"] = "COLLECTION"
    serves: str = ""


INDEXES: tuple[CompositeIndex, ...] = (
    CompositeIndex(
        "candles",
        (("symbol", "ASCENDING"), ("timeframe_s", "ASCENDING"), ("ts", "DESCENDING")),
        serves="recent_candles and last_candle_ts: symbol == s AND timeframe_s == tf [AND ts <= until] "
        "ORDER BY ts DESC LIMIT n. Real Firestore refuses these queries without it (FailedPrecondition); "
        "the emulator needs no indexes.",
    ),
)
"""Composite indexes. Single-field indexes are automatic; every other read is by document id."""

TTL_FIELDS: dict[str, str] = {"documents": "expires_at", "idempotency": "expires_at", "leases": "expires_at"}
"""TTL policies (google_firestore_field with ttl_config): collection -> Timestamp field."""

UNINDEXED_FIELDS: dict[str, tuple[str, ...]] = {
    "documents": ("value", "expires_at"),
    "idempotency": ("result", "expires_at"),
    "leases": ("expires_at",),
}
"""Single-field index exemptions (google_firestore_field with an empty index_config): large JSON text and
TTL timestamps that no query reads. Optional: they save index writes, nothing depends on them."""

COLLECTIONS = ("documents", "candles", "idempotency", "leases")
TTL_GRACE_S = 86_400
"""How long after `expires_ts` the TTL policy may delete a record (`expires_at`)."""
RACE_ROUNDS = 16
"""Read-decide-write rounds before a conditional write gives up (each lost round means another writer won)."""
BATCH_WRITES = 500
DEFAULT_BACKOFF = Backoff()
PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def collection_names(prefix: str) -> dict[str, str]:
    """The deployment's collection ids, by role."""
    return {role: f"{prefix}_{role}" for role in COLLECTIONS}


# -- the adapter ---------------------------------------------------------------------------------

_THROTTLES = (gexc.ResourceExhausted, gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.Aborted)
_AMBIGUOUS = (gexc.ServiceUnavailable, gexc.DeadlineExceeded)  # the write may have landed
_LOST = (gexc.AlreadyExists, gexc.FailedPrecondition)  # a precondition failed: someone wrote in between
_RETRIED_WRITE_CODES: dict[int, type[gexc.GoogleAPICallError]] = {
    code_pb2.RESOURCE_EXHAUSTED: gexc.ResourceExhausted,
    code_pb2.UNAVAILABLE: gexc.ServiceUnavailable,
    code_pb2.DEADLINE_EXCEEDED: gexc.DeadlineExceeded,
    code_pb2.ABORTED: gexc.Aborted,
}


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a conditional write will do: replace the document with `data`, or delete it (None)."""

    data: dict[str, Any] | None


Decide = Callable[[Any], tuple[_Plan | None, T]]


class FirestoreStore(StateStore, CoordinationStore):
    """StateStore and CoordinationStore over Firestore. See the module docstring for the design.

    `client` is used as given (shared by threads is fine; nothing here closes it). `now` is the clock
    for document TTLs (epoch seconds); `sleep`, `backoff` and `rng` drive the retries of throttled calls;
    `timeout_s` bounds each call to Firestore.
    """

    def __init__(
        self,
        client: firestore.Client,
        collection_prefix: str = "coinswarm",
        *,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff = DEFAULT_BACKOFF,
        rng: Callable[[], float] = random.random,
        timeout_s: float = 10.0,
    ) -> None:
        if not PREFIX_RE.match(collection_prefix):
            raise ValueError(f"collection prefix {collection_prefix!r} must match {PREFIX_RE.pattern}")
        self.collection_prefix = collection_prefix
        self._client = client
        self._now = now
        self._sleep = sleep
        self._backoff = backoff
        self._rng = rng
        self._timeout_s = timeout_s
        names = collection_names(collection_prefix)
        self._documents = client.collection(names["documents"])
        self._candles = client.collection(names["candles"])
        self._idempotency = client.collection(names["idempotency"])
        self._leases = client.collection(names["leases"])

    @classmethod
    def from_settings(cls, settings: Settings) -> FirestoreStore:
        """A store on the configured project and database, with the ambient credentials (or the
        emulator named by FIRESTORE_EMULATOR_HOST)."""
        gcp = settings.gcp
        client = firestore.Client(project=gcp.project, database=gcp.firestore_database)
        return cls(client, gcp.collection_prefix)

    def __repr__(self) -> str:
        return f"FirestoreStore(project={self._client.project!r}, prefix={self.collection_prefix!r})"

    # -- StateStore: documents -------------------------------------------------------------------

    def get(self, key: str) -> Versioned | None:
        what = f"get document {key!r}"
        with _translated(what):
            snap = self._read(self._documents.document(_doc_id(key)), what)
        data = snap.to_dict() if snap.exists else None
        if data is None or expired(data.get("expires_ts"), self._now()):
            return None
        return Versioned(json.loads(data["value"]), int(data["version"]))

    def put(self, key: str, value: JSON, *, expected_version: int | None = None, ttl_s: int | None = None) -> int:
        body = json.dumps(value)

        def decide(snap: Any) -> tuple[_Plan | None, int]:
            now = self._now()
            data = snap.to_dict() if snap.exists else None
            current = 0 if data is None or expired(data.get("expires_ts"), now) else int(data["version"])
            check_version(f"document {key!r}", expected_version, current)
            expires_ts = None if ttl_s is None else now + ttl_s
            fields = {
                "key": key,
                "value": body,
                "version": current + 1,
                "expires_ts": expires_ts,
                "expires_at": _ttl_at(expires_ts),
            }
            return _Plan(fields), current + 1

        return self._conditional(self._documents.document(_doc_id(key)), f"put document {key!r}", decide)

    def delete(self, key: str) -> None:
        what = f"delete document {key!r}"
        ref = self._documents.document(_doc_id(key))
        with _translated(what):
            self._retrying(what, lambda: ref.delete(retry=None, timeout=self._timeout_s))

    # -- StateStore: candles ---------------------------------------------------------------------

    def put_candles(self, candles: Sequence[Candle]) -> int:
        unique: dict[str, Candle] = {}
        for candle in candles:
            unique.setdefault(_candle_id(candle), candle)  # a batch_write may not name a document twice
        items = list(unique.items())
        added = 0
        with _translated("put candles", aborted_is_conflict=False):
            for start in range(0, len(items), BATCH_WRITES):
                added += self._create_candles(items[start : start + BATCH_WRITES])
        return added

    def _create_candles(self, items: list[tuple[str, Candle]]) -> int:
        """Create each candle unless it exists; retry the throttled writes. How many were created."""
        pending = items
        created = 0

        def attempt() -> None:
            nonlocal pending, created
            batch = BulkWriteBatch(self._client)
            for doc_id, candle in pending:
                batch.create(self._candles.document(doc_id), _candle_fields(candle))
            response = batch.commit(retry=None, timeout=self._timeout_s)
            throttled: list[tuple[str, Candle]] = []
            first: tuple[int, str] | None = None
            for item, status in zip(pending, response.status, strict=True):
                if status.code == code_pb2.OK:
                    created += 1
                elif status.code == code_pb2.ALREADY_EXISTS:
                    continue
                elif status.code in _RETRIED_WRITE_CODES:
                    throttled.append(item)
                    first = first or (status.code, status.message)
                else:
                    raise StoreError(f"create candle {item[0]!r}: {status.message} (code {status.code})")
            pending = throttled
            if first is not None:
                raise _RETRIED_WRITE_CODES[first[0]](f"{len(throttled)} candle writes: {first[1]}")

        self._retrying(f"create {len(items)} candles", attempt)
        return created

    def recent_candles(self, symbol: str, timeframe_s: int, limit: int, *, until_ts: int | None = None) -> list[Candle]:
        if limit <= 0:
            return []
        query = self._series(symbol, timeframe_s, until_ts).limit(limit)
        what = f"read candles {symbol} {timeframe_s}s"
        with _translated(what):
            snaps = self._retrying(what, lambda: list(query.stream(retry=None, timeout=self._timeout_s)))
        return [_candle(snap.to_dict()) for snap in reversed(snaps)]

    def last_candle_ts(self, symbol: str, timeframe_s: int) -> int | None:
        query = self._series(symbol, timeframe_s, None).select(["ts"]).limit(1)
        what = f"read the last candle of {symbol} {timeframe_s}s"
        with _translated(what):
            snaps = self._retrying(what, lambda: list(query.stream(retry=None, timeout=self._timeout_s)))
        return int(snaps[0].get("ts")) if snaps else None

    def _series(self, symbol: str, timeframe_s: int, until_ts: int | None) -> Any:
        """One series' candles, newest first (the composite index in INDEXES)."""
        query = self._candles.where(filter=FieldFilter("symbol", "==", symbol)).where(
            filter=FieldFilter("timeframe_s", "==", timeframe_s)
        )
        if until_ts is not None:
            query = query.where(filter=FieldFilter("ts", "<=", until_ts))
        return query.order_by("ts", direction=firestore.Query.DESCENDING)

    # -- CoordinationStore: idempotency ----------------------------------------------------------

    def begin(self, key: str, *, owner: str, now: int, in_progress_ttl_s: int) -> IdempotencyRecord | None:
        def decide(snap: Any) -> tuple[_Plan | None, IdempotencyRecord | None]:
            data = snap.to_dict() if snap.exists else None
            if data is not None and data["expires_ts"] > now:
                return None, _record(key, data)
            expires_ts = now + in_progress_ttl_s
            claim = {
                "key": key,
                "status": IdempotencyStatus.IN_PROGRESS.value,
                "owner": owner,
                "result": None,
                "expires_ts": expires_ts,
                "expires_at": _ttl_at(expires_ts),
            }
            return _Plan(claim), None

        return self._conditional(self._idempotency.document(_doc_id(key)), f"begin {key!r}", decide)

    def complete(self, key: str, result: JSON, *, owner: str, now: int, ttl_s: int) -> None:
        body = json.dumps(result)

        def decide(snap: Any) -> tuple[_Plan | None, None]:
            data = snap.to_dict() if snap.exists else None
            if data is None or data["status"] != IdempotencyStatus.IN_PROGRESS.value or data.get("owner") != owner:
                raise ConflictError(f"idempotency key {key!r} is not claimed by {owner!r}")
            expires_ts = now + ttl_s
            done = {
                "key": key,
                "status": IdempotencyStatus.COMPLETED.value,
                "owner": None,
                "result": body,
                "expires_ts": expires_ts,
                "expires_at": _ttl_at(expires_ts),
            }
            return _Plan(done), None

        self._conditional(self._idempotency.document(_doc_id(key)), f"complete {key!r}", decide)

    def abandon(self, key: str, *, owner: str) -> None:
        def decide(snap: Any) -> tuple[_Plan | None, None]:
            data = snap.to_dict() if snap.exists else None
            mine = (
                data is not None
                and data["status"] == IdempotencyStatus.IN_PROGRESS.value
                and data.get("owner") == owner
            )
            return (_Plan(None) if mine else None), None

        self._conditional(self._idempotency.document(_doc_id(key)), f"abandon {key!r}", decide)

    # -- CoordinationStore: leases ---------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, *, now: int, ttl_s: int) -> bool:
        def decide(snap: Any) -> tuple[_Plan | None, bool]:
            data = snap.to_dict() if snap.exists else None
            if data is not None and data["owner"] != owner and data["expires_ts"] > now:
                return None, False
            expires_ts = now + ttl_s
            lease = {"name": name, "owner": owner, "expires_ts": expires_ts, "expires_at": _ttl_at(expires_ts)}
            return _Plan(lease), True

        return self._conditional(self._leases.document(_doc_id(name)), f"acquire lease {name!r}", decide)

    def release_lease(self, name: str, owner: str) -> None:
        def decide(snap: Any) -> tuple[_Plan | None, None]:
            data = snap.to_dict() if snap.exists else None
            return (_Plan(None) if data is not None and data["owner"] == owner else None), None

        self._conditional(self._leases.document(_doc_id(name)), f"release lease {name!r}", decide)

    # -- conditional writes ----------------------------------------------------------------------

    def _conditional(self, ref: Any, what: str, decide: Decide[T]) -> T:
        """Read `ref`, let `decide` choose (or refuse with ConflictError), and write only if `ref` is
        unchanged since the read; when another writer got in first, read and decide again."""
        with _translated(what):
            for _ in range(RACE_ROUNDS):
                snap = self._read(ref, what)
                plan, result = decide(snap)
                if plan is None or self._write(ref, snap, plan, what):
                    return result
            raise ConflictError(f"{what}: another writer got in first {RACE_ROUNDS} times in a row; try again")

    def _write(self, ref: Any, snap: Any, plan: _Plan, what: str) -> bool:
        """Apply `plan` if `ref` is still as `snap` found it. False: someone wrote in between."""
        option = self._client.write_option(last_update_time=snap.update_time) if snap.exists else None
        ambiguous = False

        def attempt() -> None:
            nonlocal ambiguous
            try:
                if plan.data is None:
                    ref.delete(option=option, retry=None, timeout=self._timeout_s)
                elif option is None:
                    ref.create(plan.data, retry=None, timeout=self._timeout_s)
                else:
                    ref.update(plan.data, option=option, retry=None, timeout=self._timeout_s)
            except _AMBIGUOUS:
                ambiguous = True
                raise

        try:
            self._retrying(what, attempt)
        except _LOST:
            # After an ambiguous failure, the precondition may have failed on our own earlier write.
            return ambiguous and self._landed(ref, plan, what)
        return True

    def _landed(self, ref: Any, plan: _Plan, what: str) -> bool:
        snap = self._read(ref, what)
        if plan.data is None:
            return not snap.exists
        return bool(snap.exists and snap.to_dict() == plan.data)

    def _read(self, ref: Any, what: str) -> Any:
        return self._retrying(what, lambda: ref.get(retry=None, timeout=self._timeout_s))

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        return with_backoff(
            call,
            throttled=lambda exc: isinstance(exc, _THROTTLES),
            what=f"firestore: {what}",
            policy=self._backoff,
            sleep=self._sleep,
            rng=self._rng,
        )


# -- helpers -------------------------------------------------------------------------------------


@contextmanager
def _translated(what: str, *, aborted_is_conflict: bool = True) -> Iterator[None]:
    """Google API errors as the ports' errors (see the module docstring)."""
    try:
        yield
    except TransientStoreError as e:
        if aborted_is_conflict and isinstance(e.__cause__, gexc.Aborted):
            raise ConflictError(f"{what}: still contended after retries: {e.__cause__.message}") from e
        raise
    except StoreError:
        raise
    except (gexc.AlreadyExists, gexc.FailedPrecondition, gexc.Aborted) as e:
        raise ConflictError(f"{what}: {e.message}") from e
    except gexc.RetryError as e:
        raise TransientStoreError(f"{what}: {e}") from e
    except gexc.GoogleAPIError as e:
        raise StoreError(f"{what}: {e}") from e


def _doc_id(key: str) -> str:
    """`key` as a valid Firestore document id, one-to-one: `%` and `/` are percent-escaped, and the
    ids Firestore reserves ("", ".", "..", "__x__") get an escaped first character."""
    escaped = key.replace("%", "%25").replace("/", "%2F")
    if escaped == "":
        return "%"
    if escaped in (".", ".."):
        return "%2E" + escaped[1:]
    if escaped.startswith("__") and escaped.endswith("__") and len(escaped) >= 4:
        return "%5F" + escaped[1:]
    return escaped


def _candle_id(candle: Candle) -> str:
    return _doc_id(f"{candle.symbol}#{candle.timeframe_s}#{candle.ts:012d}")


def _candle_fields(candle: Candle) -> dict[str, Any]:
    return {
        "symbol": candle.symbol,
        "timeframe_s": candle.timeframe_s,
        "ts": candle.ts,
        "open": candle.open,
        "high": candle.high,
        "low": candle.low,
        "close": candle.close,
        "volume": candle.volume,
    }


def _candle(data: dict[str, Any]) -> Candle:
    return Candle(
        symbol=data["symbol"],
        timeframe_s=data["timeframe_s"],
        ts=data["ts"],
        open=data["open"],
        high=data["high"],
        low=data["low"],
        close=data["close"],
        volume=data["volume"],
    )


def _record(key: str, data: dict[str, Any]) -> IdempotencyRecord:
    result = data.get("result")
    return IdempotencyRecord(
        key, IdempotencyStatus(data["status"]), None if result is None else json.loads(result), data["expires_ts"]
    )


def _ttl_at(expires_ts: float | None) -> datetime | None:
    """When a TTL policy may delete the record: TTL_GRACE_S after it expired."""
    return None if expires_ts is None else datetime.fromtimestamp(expires_ts + TTL_GRACE_S, tz=UTC)
