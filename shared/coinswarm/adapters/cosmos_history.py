"""Cosmos DB adapter for the history port: the ledger, its projections, decisions and risk rejections.

Imported only when `store.history = "cosmos"` is configured (the SDK is the `azure` extra), so a function
on DynamoDB or Firestore never loads it. Every item's model is stored under `body` as
`model_dump(mode="json")` (JSON numbers are IEEE doubles on both sides, so floats come back exact) and read
back with `model_validate`; the few fields that queries filter or sort on are copied beside it.
Its containers (`CONTAINERS`, which the Terraform mirrors) and what holds on them: docs/stores.md.

Errors: 429 is retried with `with_backoff` (jittered, bounded; `sleep` is injectable) and surfaces as
`TransientStoreError` when the attempts run out; 409 and 412 become `ConflictError` (a 409 on an append
whose event ids are all new: `SequenceConflictError`); 408/449/503 and lost connections
`TransientStoreError`; anything else `StoreError`. The account key is only ever handed to the SDK: no
message or repr here contains it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy, PartitionKey
from azure.cosmos._retry_options import RetryOptions  # the type of ConnectionPolicy.RetryOptions
from azure.cosmos.documents import ConnectionPolicy
from azure.cosmos.exceptions import (
    CosmosBatchOperationError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)

from coinswarm.adapters.retry import Backoff, with_backoff
from coinswarm.adapters.store_rules import check_sequence, check_version
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Decision, LedgerEvent, RiskRejection
from coinswarm.errors import ConflictError, SequenceConflictError, StoreError, TransientStoreError
from coinswarm.ports.history import HistoryStore, episode_keys
from coinswarm.ports.state import JSON, Versioned

T = TypeVar("T")

LEDGER = "ledger"
PROJECTIONS = "projections"
DECISIONS = "decisions"
REJECTIONS = "rejections"
EPISODES = "episodes"

AUDIT_TTL_S = 90 * 86_400
"""Decisions and rejections expire this long after they were written (the containers' default TTL)."""

MAX_APPEND = 100
"""The most events one append writes: a Cosmos DB transactional batch holds at most 100 operations."""

PROJECTION_ID = "projection"
DEFAULT_BACKOFF = Backoff()
_TRANSIENT_STATUS = frozenset({408, 449, 503})


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """How one container is provisioned: what `create_containers` does and the Terraform mirrors."""

    name: str
    partition_key: str
    default_ttl: int | None
    """Seconds an item lives after its last write; None: TTL off (items never expire, an item's `ttl` is
    ignored); -1: TTL on with no default (only items carrying a `ttl` expire)."""
    indexing_policy: dict[str, Any]
    unique_keys: tuple[str, ...] = ()
    queries: tuple[str, ...] = field(default=())


def _indexed(*paths: str, newest_first: bool = False) -> dict[str, Any]:
    """Index only `paths` (scalars), plus the composite index that `ORDER BY c.ts DESC, c.recorded DESC` needs."""
    policy: dict[str, Any] = {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": f"{p}/?"} for p in paths],
        "excludedPaths": [{"path": "/*"}],
    }
    if newest_first:
        policy["compositeIndexes"] = [
            [{"path": "/ts", "order": "descending"}, {"path": "/recorded", "order": "descending"}]
        ]
    return policy


CONTAINERS: tuple[ContainerSpec, ...] = (
    ContainerSpec(
        name=LEDGER,
        partition_key="/stream",
        default_ttl=None,
        indexing_policy=_indexed("/stream", "/seq", "/event_id"),
        unique_keys=("/event_id",),
        queries=("last_seq and read: one stream, ORDER BY seq", "event ids: cross-partition, by event_id"),
    ),
    ContainerSpec(
        name=PROJECTIONS,
        partition_key="/stream",
        default_ttl=None,
        indexing_policy=_indexed(),
        queries=("none: point reads and etag-conditional replaces",),
    ),
    ContainerSpec(
        name=DECISIONS,
        partition_key="/symbol",
        default_ttl=AUDIT_TTL_S,
        indexing_policy=_indexed("/symbol", "/ts", "/recorded", newest_first=True),
        queries=("newest first: one symbol, or cross-partition for all",),
    ),
    ContainerSpec(
        name=REJECTIONS,
        partition_key="/symbol",
        default_ttl=AUDIT_TTL_S,
        indexing_policy=_indexed("/symbol", "/ts", "/recorded", newest_first=True),
        queries=("newest first: cross-partition",),
    ),
    ContainerSpec(
        name=EPISODES,
        partition_key="/symbol",
        default_ttl=None,  # the market memory: one small item per closed trade, kept for good
        indexing_policy=_indexed("/symbol", "/ts", "/recorded", newest_first=True),
        queries=("since an exit time, newest first: one symbol, or cross-partition for all",),
    ),
)


class CosmosHistoryStore(HistoryStore):
    """The history port on one Cosmos DB database. See the module docstring for the design.

    `client` is a `CosmosClient` (then `database` names the database) or a `DatabaseProxy`. `audit_ttl_s`
    gives decisions and rejections a per-item TTL instead of the containers' default. `backoff` and
    `sleep` drive the retries of throttled requests; `now_us` is the clock that orders records with equal
    `ts` (epoch microseconds). An instance may be shared by threads.
    """

    def __init__(
        self,
        client: CosmosClient | DatabaseProxy,
        database: str | None = None,
        *,
        audit_ttl_s: int | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        now_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        owns_client: bool = False,
    ) -> None:
        if isinstance(client, CosmosClient):
            if not database:
                raise ValueError("name the database to use on this Cosmos DB account")
            self._client: CosmosClient | None = client
            self._database = client.get_database_client(database)
        else:
            self._client = None
            self._database = client
        self.database_name: str = self._database.id
        self._containers: dict[str, ContainerProxy] = {
            spec.name: self._database.get_container_client(spec.name) for spec in CONTAINERS
        }
        self._audit_ttl_s = audit_ttl_s
        self._backoff = backoff
        self._sleep = sleep
        self._now_us = now_us
        self._owns_client = owns_client
        self._recorded_lock = threading.Lock()
        self._last_recorded = 0

    @classmethod
    def from_settings(cls, settings: Settings, **client_options: Any) -> CosmosHistoryStore:
        """A store on the account and database of `settings.azure`. `client_options` go to `CosmosClient`
        (e.g. `enable_endpoint_discovery=False` for a local emulator). The SDK contacts the account here."""
        azure = settings.azure
        if not azure.cosmos_endpoint or azure.cosmos_key is None:
            raise StoreError("the Cosmos DB history store needs azure.cosmos_endpoint and azure.cosmos_key")
        policy = ConnectionPolicy()
        policy.RetryOptions = RetryOptions(max_retry_attempt_count=0)  # with_backoff owns throttling
        try:
            client = CosmosClient(
                azure.cosmos_endpoint,
                credential=azure.cosmos_key.get_secret_value(),
                connection_policy=policy,
                **{"enable_endpoint_discovery": azure.endpoint_discovery, **client_options},
            )
        except ValueError:  # the key is not base64; say so without echoing any of it
            raise StoreError("azure.cosmos_key is not a Cosmos DB account key (base64 expected)") from None
        except HttpResponseError as e:
            raise StoreError(f"Cosmos DB at {azure.cosmos_endpoint} refused the request ({e.status_code})") from e
        except AzureError as e:
            raise TransientStoreError(
                f"Cosmos DB at {azure.cosmos_endpoint} did not answer ({type(e).__name__})"
            ) from e
        return cls(client, azure.cosmos_database, owns_client=True)

    def __repr__(self) -> str:
        return f"CosmosHistoryStore(database={self.database_name!r})"

    def close(self) -> None:
        """Close the client if this store opened it (`from_settings`); an injected one stays open."""
        if self._owns_client and self._client is not None:
            self._client.close()

    # -- provisioning ----------------------------------------------------------------------------

    def create_containers(self, *, database_throughput: int | None = None) -> None:
        """Create the database (when built from a client) and every container in `CONTAINERS` that is
        missing. Idempotent; existing containers are left as they are (their TTL and indexing are not
        changed). On a provisioned account give `database_throughput` (e.g. 1000 RU/s on the free
        tier) so that the containers share it rather than each getting 400 RU/s of its own."""
        if self._client is not None:
            client = self._client
            # (a 409 here and below: created by someone else between the SDK's read and its create)
            with contextlib.suppress(CosmosResourceExistsError):
                self._call(
                    f"create database {self.database_name!r}",
                    lambda: client.create_database_if_not_exists(
                        self.database_name, offer_throughput=database_throughput
                    ),
                    expect=(CosmosResourceExistsError,),
                )
        for spec in CONTAINERS:
            with contextlib.suppress(CosmosResourceExistsError):
                self._call(
                    f"create container {spec.name!r}",
                    _creator(self._database, spec),
                    expect=(CosmosResourceExistsError,),
                )

    # -- HistoryStore: ledger --------------------------------------------------------------------

    def append(self, stream: str, events: Sequence[LedgerEvent]) -> None:
        if not events:
            return
        if len(events) > MAX_APPEND:
            raise StoreError(f"ledger stream {stream!r}: append at most {MAX_APPEND} events at a time on Cosmos DB")
        check_sequence(stream, events, self.last_seq(stream))
        self._check_new_event_ids(stream, events)
        items = [
            {
                "id": _seq_id(e.seq),
                "stream": stream,
                "seq": e.seq,
                "event_id": e.event_id,
                "body": e.model_dump(mode="json"),
            }
            for e in events
        ]
        ledger = self._containers[LEDGER]
        what = f"append to ledger stream {stream!r}"
        try:
            if len(items) == 1:
                self._call(what, lambda: ledger.create_item(items[0]), expect=(CosmosResourceExistsError,))
            else:
                operations = [("create", (item,)) for item in items]
                self._call(
                    what,
                    lambda: ledger.execute_item_batch(operations, partition_key=stream),
                    expect=(CosmosBatchOperationError,),
                )
        except CosmosResourceExistsError as e:
            raise self._lost_append(stream, events) from e
        except CosmosBatchOperationError as e:
            if e.status_code == 409:
                raise self._lost_append(stream, events) from e
            raise StoreError(f"{what}: the batch failed at event {e.error_index} ({e.status_code})") from e

    def _check_new_event_ids(self, stream: str, events: Sequence[LedgerEvent]) -> None:
        seen: set[str] = set()
        for event in events:
            if event.event_id in seen:
                raise ConflictError(f"ledger stream {stream!r}: event id {event.event_id!r} is in the batch twice")
            seen.add(event.event_id)
        found = self._find_event_ids([e.event_id for e in events])
        if found:
            event_id, where = found[0]
            raise ConflictError(f"ledger stream {stream!r}: event id {event_id!r} already exists (in stream {where!r})")

    def _find_event_ids(self, event_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(event id, stream) of those of `event_ids` in the ledger, any stream (a cross-partition query)."""
        names = [f"@e{i}" for i in range(len(event_ids))]
        rows = self._query(
            LEDGER,
            "find event ids in the ledger",
            f"SELECT c.event_id, c.stream FROM c WHERE c.event_id IN ({', '.join(names)})",
            dict(zip(names, event_ids, strict=True)),
        )
        return [(row["event_id"], row["stream"]) for row in rows]

    def _lost_append(self, stream: str, events: Sequence[LedgerEvent]) -> ConflictError:
        """Why the server refused the write: an event id that is in the ledger, else a sequence number taken."""
        found = self._find_event_ids([e.event_id for e in events])
        if found:
            event_id, where = found[0]
            return ConflictError(
                f"ledger stream {stream!r}: event id {event_id!r} already exists (in stream {where!r})"
            )
        return SequenceConflictError(stream, self.last_seq(stream) + 1, events[0].seq)

    def read(self, stream: str, after_seq: int = 0) -> list[LedgerEvent]:
        bodies = self._query(
            LEDGER,
            f"read ledger stream {stream!r}",
            "SELECT VALUE c.body FROM c WHERE c.stream = @stream AND c.seq > @after ORDER BY c.seq",
            {"@stream": stream, "@after": after_seq},
            partition=stream,
        )
        return [LedgerEvent.model_validate(body) for body in bodies]

    def last_seq(self, stream: str) -> int:
        found = self._query(
            LEDGER,
            f"last sequence number of {stream!r}",
            "SELECT TOP 1 VALUE c.seq FROM c WHERE c.stream = @stream ORDER BY c.seq DESC",
            {"@stream": stream},
            partition=stream,
        )
        return int(found[0]) if found else 0

    # -- HistoryStore: projections ---------------------------------------------------------------

    def get_projection(self, stream: str) -> Versioned | None:
        item = self._read_projection(stream)
        return None if item is None else Versioned(item["value"], int(item["version"]))

    def _read_projection(self, stream: str) -> dict[str, Any] | None:
        projections = self._containers[PROJECTIONS]
        try:
            return self._call(
                f"read the projection of {stream!r}",
                lambda: projections.read_item(PROJECTION_ID, partition_key=stream),
                expect=(CosmosResourceNotFoundError,),
            )
        except CosmosResourceNotFoundError:
            return None

    def put_projection(self, stream: str, value: JSON, *, expected_version: int) -> int:
        projections = self._containers[PROJECTIONS]
        what = f"projection {stream!r}"
        body = {"id": PROJECTION_ID, "stream": stream, "version": expected_version + 1, "value": value}
        if expected_version == 0:
            try:
                self._call(f"create {what}", lambda: projections.create_item(body), expect=(CosmosResourceExistsError,))
            except CosmosResourceExistsError:
                raise ConflictError(f"{what} exists already, but the write expected none; read it again") from None
            return 1
        current = self._read_projection(stream)
        check_version(what, expected_version, 0 if current is None else int(current["version"]))
        assert current is not None  # check_version refused a missing one
        etag = current["_etag"]
        self._call(
            f"replace {what}",
            lambda: projections.replace_item(
                PROJECTION_ID, body, etag=etag, match_condition=MatchConditions.IfNotModified
            ),
        )  # 412 (written since it was read) and 404 (gone since) become ConflictError
        return expected_version + 1

    # -- HistoryStore: decisions and rejections --------------------------------------------------

    def record_decision(self, decision: Decision) -> None:
        self._record(DECISIONS, decision.decision_id, decision.symbol, decision.ts, decision.model_dump(mode="json"))

    def recent_decisions(self, limit: int, symbol: str | None = None) -> list[Decision]:
        if limit <= 0:
            return []
        return [Decision.model_validate(body) for body in self._newest(DECISIONS, limit, symbol)]

    def record_rejection(self, rejection: RiskRejection) -> None:
        self._record(REJECTIONS, rejection.intent_id, rejection.symbol, rejection.ts, rejection.model_dump(mode="json"))

    def recent_rejections(self, limit: int) -> list[RiskRejection]:
        if limit <= 0:
            return []
        return [RiskRejection.model_validate(body) for body in self._newest(REJECTIONS, limit)]

    # -- HistoryStore: episodes (`ts` is the exit time) --------------------------------------------

    def record_episode(self, episode: Mapping[str, Any]) -> None:
        episode_id, symbol, exit_ts = episode_keys(episode)
        item = {"id": _item_id(episode_id), "symbol": symbol, "ts": exit_ts, "recorded": self._recorded()}
        item["body"] = dict(episode)
        container = self._containers[EPISODES]
        with contextlib.suppress(CosmosResourceExistsError):  # recorded already: the first stays
            self._call(
                f"record episode {episode_id!r}",
                lambda: container.create_item(item),
                expect=(CosmosResourceExistsError,),
            )

    def episodes(
        self, *, symbol: str | None = None, since_ts: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        top = "" if limit is None else "TOP @limit "
        where = "c.ts >= @since" + ("" if symbol is None else " AND c.symbol = @symbol")
        sql = f"SELECT {top}VALUE c.body FROM c WHERE {where} ORDER BY c.ts DESC, c.recorded DESC"
        params: dict[str, Any] = {"@since": since_ts}
        if symbol is not None:
            params["@symbol"] = symbol
        if limit is not None:
            params["@limit"] = limit
        found = self._query(EPISODES, "episodes", sql, params, partition=symbol)
        return [dict(b) for b in reversed(found)]

    def _record(self, name: str, key: str, symbol: str, ts: int, body: JSON) -> None:
        item: dict[str, Any] = {
            "id": _item_id(key),
            "symbol": symbol,
            "ts": ts,
            "recorded": self._recorded(),
            "body": body,
        }
        if self._audit_ttl_s is not None:
            item["ttl"] = self._audit_ttl_s
        container = self._containers[name]
        with contextlib.suppress(CosmosResourceExistsError):  # recorded already (a redelivery): the first stays
            self._call(
                f"record {key!r} in {name}", lambda: container.create_item(item), expect=(CosmosResourceExistsError,)
            )

    def _newest(self, name: str, limit: int, symbol: str | None = None) -> list[Any]:
        if symbol is None:
            sql, params = "SELECT TOP @limit VALUE c.body FROM c ORDER BY c.ts DESC, c.recorded DESC", {}
        else:
            sql = "SELECT TOP @limit VALUE c.body FROM c WHERE c.symbol = @symbol ORDER BY c.ts DESC, c.recorded DESC"
            params = {"@symbol": symbol}
        return self._query(name, f"newest {name}", sql, {"@limit": limit, **params}, partition=symbol)

    def _recorded(self) -> int:
        """The writer's clock in microseconds, strictly rising within this instance (exact as a JSON double)."""
        with self._recorded_lock:
            self._last_recorded = max(self._now_us(), self._last_recorded + 1)
            return self._last_recorded

    # -- the SDK boundary ------------------------------------------------------------------------

    def _query(
        self, name: str, what: str, sql: str, params: dict[str, Any], *, partition: str | None = None
    ) -> list[Any]:
        """All results of `sql`, in one partition (it must also filter on the partition key) or across all."""
        container = self._containers[name]
        parameters: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in params.items()]

        def run() -> list[Any]:
            if partition is None:
                return list(container.query_items(sql, parameters=parameters, enable_cross_partition_query=True))
            return list(container.query_items(sql, parameters=parameters, partition_key=partition))

        return self._call(what, run)

    def _call(self, what: str, call: Callable[[], T], *, expect: tuple[type[Exception], ...] = ()) -> T:
        """`call()` with throttling retried; the errors in `expect` reach the caller as they are, the rest
        become the port's errors."""
        try:
            return with_backoff(
                call, throttled=_throttled, what=f"Cosmos DB: {what}", policy=self._backoff, sleep=self._sleep
            )
        except expect:
            raise
        except HttpResponseError as e:
            raise _translated(what, e) from e
        except (ServiceRequestError, ServiceResponseError) as e:
            raise TransientStoreError(f"{what}: Cosmos DB did not answer ({type(e).__name__})") from e
        except AzureError as e:
            raise StoreError(f"{what}: {type(e).__name__}") from e


def _creator(database: DatabaseProxy, spec: ContainerSpec) -> Callable[[], ContainerProxy]:
    def create() -> ContainerProxy:
        return database.create_container_if_not_exists(
            id=spec.name,
            partition_key=PartitionKey(path=spec.partition_key),
            indexing_policy=spec.indexing_policy,
            default_ttl=spec.default_ttl,
            unique_key_policy={"uniqueKeys": [{"paths": [path]} for path in spec.unique_keys]},
        )

    return create


def _throttled(exc: BaseException) -> bool:
    return isinstance(exc, HttpResponseError) and exc.status_code == 429


def _translated(what: str, e: HttpResponseError) -> StoreError:
    status = e.status_code
    if status in (409, 412):
        return ConflictError(f"{what}: the item changed (or exists, or is gone) since it was read ({status})")
    if status in _TRANSIENT_STATUS:
        return TransientStoreError(f"{what}: Cosmos DB is briefly unavailable ({status})")
    if status == 404:
        return StoreError(f"{what}: not found (404); do the database and containers exist? (create_containers)")
    first_line = (str(getattr(e, "message", "") or "").strip().splitlines() or [""])[0][:200]
    return StoreError(f"{what}: Cosmos DB answered {status}: {first_line}")


def _seq_id(seq: int) -> str:
    """A ledger item's id: its sequence number, zero-padded so ids sort as numbers."""
    return f"{seq:012d}"


_ID_SAFE = "-_.~:@!$&'()*+,=;"


def _item_id(key: str) -> str:
    """`key` as a Cosmos DB item id: ids may not hold '/', '\\', '?' or '#', so those (and '%') are
    percent-encoded; the mapping is one-to-one."""
    return quote(key, safe=_ID_SAFE)
