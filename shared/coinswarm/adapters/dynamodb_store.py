"""DynamoDB adapter for hot state and coordination (`StateStore`, `CoordinationStore`), over boto3.

Imported only when the configuration selects DynamoDB (see `wiring.bootstrap`), so boto3 is loaded
here and nowhere else. One table (`TABLES`, which the Terraform mirrors); its design: docs/stores.md.

Errors: a lost condition is `ConflictError` (or the result the port specifies). Throttling
(`THROTTLING`) is retried with backoff and surfaces as `TransientStoreError` when the attempts run out;
so do a 5xx and a lost connection (not retried here: a write may have landed). Everything else is a
`StoreError`. One instance may be shared by threads.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from coinswarm.adapters.retry import Backoff, with_backoff
from coinswarm.adapters.store_rules import check_version, expired
from coinswarm.domain.models import Candle
from coinswarm.errors import CoinswarmError, ConflictError, StoreError, TransientStoreError
from coinswarm.ports.coordination import CoordinationStore, IdempotencyRecord, IdempotencyStatus
from coinswarm.ports.state import JSON, StateStore, Versioned

if TYPE_CHECKING:
    from coinswarm.config.settings import Settings

FREE_TIER_RCU = 25
FREE_TIER_WCU = 25
DEFAULT_CANDLE_TTL_BARS = 2000
DEFAULT_BACKOFF = Backoff()
THROTTLING = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
_UNAVAILABLE = frozenset({"InternalServerError", "ServiceUnavailable", "ServiceUnavailableException"})
_CONDITION_FAILED = "ConditionalCheckFailedException"
_PUT_ATTEMPTS = 10  # an unconditional put retried after losing to concurrent writers this often gives up

# Attribute names (short is cheaper: names count towards an item's size, hence its read and write units).
PK, SK = "pk", "sk"
BODY, VERSION, EXPIRES_AT, EXPIRES_TS = "body", "version", "expires_at", "expires_ts"
OHLCV, STATUS, OWNER, RESULT = "ohlcv", "status", "owner", "result"


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One DynamoDB table as deployed: named `{prefix}-{suffix}`, provisioned, no GSIs."""

    suffix: str
    partition_key: tuple[str, str]  # (attribute name, "S" | "N" | "B")
    sort_key: tuple[str, str] | None
    read_capacity: int
    write_capacity: int
    ttl_attribute: str | None

    def name(self, prefix: str) -> str:
        return f"{prefix}-{self.suffix}"

    def create_table_request(self, prefix: str) -> dict[str, Any]:
        """The CreateTable arguments for this table."""
        keys = [(self.partition_key, "HASH")] + ([(self.sort_key, "RANGE")] if self.sort_key else [])
        return {
            "TableName": self.name(prefix),
            "KeySchema": [{"AttributeName": name, "KeyType": kind} for (name, _), kind in keys],
            "AttributeDefinitions": [{"AttributeName": name, "AttributeType": typ} for (name, typ), _ in keys],
            "BillingMode": "PROVISIONED",
            "ProvisionedThroughput": {
                "ReadCapacityUnits": self.read_capacity,
                "WriteCapacityUnits": self.write_capacity,
            },
        }


STATE_TABLE = TableSpec(
    suffix="state",
    partition_key=(PK, "S"),
    sort_key=(SK, "N"),
    read_capacity=10,
    write_capacity=10,
    ttl_attribute=EXPIRES_AT,
)
TABLES: tuple[TableSpec, ...] = (STATE_TABLE,)


def client_config() -> Config:
    """botocore settings for a function's client: no SDK retries (ours back off; see the module
    docstring), and timeouts short enough for a one-minute cycle."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=3,
        read_timeout=10,
        tcp_keepalive=True,
    )


class _ConditionFailedError(CoinswarmError):
    """A conditional write lost; `item` is the stored item it was checked against, if any."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("the condition failed")
        self.item = item


class DynamoStore(StateStore, CoordinationStore):
    """Hot state and coordination on one DynamoDB table. See the module docstring for the design.

    `client` is a boto3 DynamoDB client (injected: `from_settings` builds one from the configuration).
    `now` is the clock for document TTLs and candle retention (epoch seconds, `time.time` by default;
    tests inject a fake one); idempotency records and leases use the `now` their callers pass.
    `sleep`, `backoff` and `rng` drive the retries of throttled requests. `candle_ttl_bars`: how many
    bars (of the candle's timeframe) after it was written a candle expires; None keeps candles forever.
    """

    def __init__(
        self,
        *,
        client: Any,
        table_prefix: str,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff = DEFAULT_BACKOFF,
        rng: Callable[[], float] = random.random,
        candle_ttl_bars: int | None = DEFAULT_CANDLE_TTL_BARS,
    ) -> None:
        if candle_ttl_bars is not None and candle_ttl_bars < 1:
            raise ValueError(f"candle_ttl_bars must be at least 1 (or None to keep candles), not {candle_ttl_bars}")
        self.client = client
        self.table_prefix = table_prefix
        self.table = STATE_TABLE.name(table_prefix)
        self.candle_ttl_bars = candle_ttl_bars
        self._now = now
        self._sleep = sleep
        self._backoff = backoff
        self._rng = rng

    @classmethod
    def from_settings(cls, settings: Settings, **client_options: Any) -> DynamoStore:
        """A store on the tables `settings.aws` names (region, endpoint_url, table_prefix).

        `client_options` go to `boto3.client` (e.g. explicit credentials for a local stand-in); by
        default boto3 finds credentials the usual way (a Lambda's role, the environment, a profile).
        """
        aws = settings.aws
        client = boto3.client(
            "dynamodb",
            region_name=aws.region,
            endpoint_url=aws.endpoint_url,
            config=client_config(),
            **client_options,
        )
        return cls(client=client, table_prefix=aws.table_prefix)

    def __repr__(self) -> str:
        return f"DynamoStore(table={self.table!r})"

    def table_names(self) -> list[str]:
        return [spec.name(self.table_prefix) for spec in TABLES]

    # -- tables ----------------------------------------------------------------------------------

    def create_tables(self, *, timeout_s: float = 120.0, poll_s: float = 1.0) -> None:
        """Create the tables of `TABLES` that do not exist yet, wait until they are ACTIVE and enable
        TTL on them. Idempotent (deploy tooling and tests may call it on every run); existing tables
        are left as they are (capacity changes are the Terraform's business)."""
        for spec in TABLES:
            name = spec.name(self.table_prefix)
            try:
                self._request("create_table", **spec.create_table_request(self.table_prefix))
            except ClientError as e:
                if _code(e) != "ResourceInUseException":  # it exists (or is being created) already
                    raise _translate(e, f"creating DynamoDB table {name}") from e
            except BotoCoreError as e:
                raise _translate(e, f"creating DynamoDB table {name}") from e
            self._wait_until_active(name, timeout_s, poll_s)
            if spec.ttl_attribute is not None:
                self._enable_ttl(name, spec.ttl_attribute)

    def _wait_until_active(self, name: str, timeout_s: float, poll_s: float) -> None:
        for _ in range(max(1, math.ceil(timeout_s / poll_s))):
            status = self._call("describe_table", TableName=name)["Table"]["TableStatus"]
            if status == "ACTIVE":
                return
            self._sleep(poll_s)
        raise StoreError(f"DynamoDB table {name} is still not ACTIVE after {timeout_s:.0f} s")

    def _enable_ttl(self, name: str, attribute: str) -> None:
        found = self._call("describe_time_to_live", TableName=name)["TimeToLiveDescription"]
        if found.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            if found.get("AttributeName") != attribute:
                raise StoreError(f"DynamoDB table {name} has TTL on {found.get('AttributeName')!r}, not {attribute!r}")
            return
        self._call(
            "update_time_to_live",
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )

    # -- StateStore: documents -------------------------------------------------------------------

    def get(self, key: str) -> Versioned | None:
        item = self._call("get_item", TableName=self.table, Key=_key(_doc(key)), ConsistentRead=True).get("Item")
        if item is None or expired(_opt_num(item, EXPIRES_TS), self._now()):
            return None
        return Versioned(json.loads(item[BODY]["S"]), int(item[VERSION]["N"]))

    def put(self, key: str, value: JSON, *, expected_version: int | None = None, ttl_s: int | None = None) -> int:
        body = _dumps(value)
        now = self._now()
        expires_ts = None if ttl_s is None else now + ttl_s
        what = f"document {key!r}"
        if expected_version is None:
            return self._put_unconditionally(key, body, now, expires_ts)
        if expected_version == 0:
            condition, names, values = _ABSENT_OR_EXPIRED, _names(PK, EXPIRES_TS), {":now": _n(now)}
        else:
            condition = f"#{VERSION} = :v AND {_UNEXPIRED}"
            names, values = _names(VERSION, EXPIRES_TS), {":v": _n(expected_version), ":now": _n(now)}
        try:
            self._call(
                "put_item",
                TableName=self.table,
                Item=_doc_item(key, body, expected_version + 1, expires_ts),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _ConditionFailedError as lost:
            check_version(what, expected_version, _live_version(lost.item, now))
            raise ConflictError(f"{what} changed while it was being written; read it again") from None
        return expected_version + 1

    def _put_unconditionally(self, key: str, body: str, now: float, expires_ts: float | None) -> int:
        """Last writer wins, but the version still counts every write: an UpdateItem raises it
        atomically over a live (or no) document; over an expired one the version restarts at 1."""
        names = _names(PK, BODY, VERSION, EXPIRES_TS, EXPIRES_AT)
        update = f"SET #{BODY} = :b, #{VERSION} = if_not_exists(#{VERSION}, :zero) + :one"
        values = {":b": {"S": body}, ":zero": _n(0), ":one": _n(1), ":now": _n(now)}
        if expires_ts is None:
            update += f" REMOVE #{EXPIRES_TS}, #{EXPIRES_AT}"
        else:
            update += f", #{EXPIRES_TS} = :x, #{EXPIRES_AT} = :a"
            values |= {":x": _n(expires_ts), ":a": _n(math.ceil(expires_ts))}
        for _ in range(_PUT_ATTEMPTS):
            try:
                done = self._call(
                    "update_item",
                    TableName=self.table,
                    Key=_key(_doc(key)),
                    UpdateExpression=update,
                    ConditionExpression=f"attribute_not_exists(#{PK}) OR {_UNEXPIRED}",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="UPDATED_NEW",
                )
                return int(done["Attributes"][VERSION]["N"])
            except _ConditionFailedError:
                pass  # an expired document is in the way: replace it, starting again at version 1
            try:
                self._call(
                    "put_item",
                    TableName=self.table,
                    Item=_doc_item(key, body, 1, expires_ts),
                    ConditionExpression=_ABSENT_OR_EXPIRED,
                    ExpressionAttributeNames=_names(PK, EXPIRES_TS),
                    ExpressionAttributeValues={":now": _n(now)},
                )
                return 1
            except _ConditionFailedError:
                continue  # someone wrote a live document meanwhile: raise its version instead
        raise TransientStoreError(f"document {key!r} kept changing under {_PUT_ATTEMPTS} attempts to write it")

    def delete(self, key: str) -> None:
        self._call("delete_item", TableName=self.table, Key=_key(_doc(key)))

    # -- StateStore: candles ---------------------------------------------------------------------

    def put_candles(self, candles: Sequence[Candle]) -> int:
        now = self._now()
        seen: set[tuple[str, int, int]] = set()
        added = 0
        for c in candles:
            if (c.symbol, c.timeframe_s, c.ts) in seen:  # the first of a batch's repeats is the one kept
                continue
            seen.add((c.symbol, c.timeframe_s, c.ts))
            item = {
                PK: {"S": _series(c.symbol, c.timeframe_s)},
                SK: _n(c.ts),
                OHLCV: {"S": _dumps([c.open, c.high, c.low, c.close, c.volume])},
            }
            if self.candle_ttl_bars is not None:
                item[EXPIRES_AT] = _n(math.ceil(now + self.candle_ttl_bars * c.timeframe_s))
            try:
                self._call(
                    "put_item",
                    TableName=self.table,
                    Item=item,
                    ConditionExpression=f"attribute_not_exists(#{PK}) OR #{EXPIRES_AT} <= :now",
                    ExpressionAttributeNames=_names(PK, EXPIRES_AT),
                    ExpressionAttributeValues={":now": _n(now)},
                )
                added += 1
            except _ConditionFailedError:
                pass  # stored already: keep it
        return added

    def recent_candles(self, symbol: str, timeframe_s: int, limit: int, *, until_ts: int | None = None) -> list[Candle]:
        if limit <= 0:
            return []
        found: list[Candle] = []
        for item in self._newest(_series(symbol, timeframe_s), until_ts, page=limit):
            o, h, lo, c, v = json.loads(item[OHLCV]["S"])
            ts = int(item[SK]["N"])
            found.append(
                Candle(symbol=symbol, timeframe_s=timeframe_s, ts=ts, open=o, high=h, low=lo, close=c, volume=v)
            )
            if len(found) == limit:
                break
        found.reverse()
        return found

    def last_candle_ts(self, symbol: str, timeframe_s: int) -> int | None:
        for item in self._newest(_series(symbol, timeframe_s), None, page=1, projection=f"#{SK}, #{EXPIRES_AT}"):
            return int(item[SK]["N"])
        return None

    def _newest(
        self, pk: str, until_ts: int | None, *, page: int, projection: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """A series' unexpired items, newest first, `page` per Query (expired ones are skipped, so a
        page may yield fewer than `page` and the next is fetched)."""
        condition = f"#{PK} = :pk" + ("" if until_ts is None else f" AND #{SK} <= :until")
        values = {":pk": {"S": pk}} | ({} if until_ts is None else {":until": _n(until_ts)})
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": page,
        }
        if projection is not None:
            request |= {"ProjectionExpression": projection, "ExpressionAttributeNames": _names(PK, SK, EXPIRES_AT)}
        else:
            request["ExpressionAttributeNames"] = _names(PK, SK) if until_ts is not None else _names(PK)
        now = self._now()
        while True:
            answer = self._call("query", **request)
            for item in answer.get("Items", []):
                if not expired(_opt_num(item, EXPIRES_AT), now):
                    yield item
            if "LastEvaluatedKey" not in answer:
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # -- CoordinationStore: idempotency ----------------------------------------------------------

    def begin(self, key: str, *, owner: str, now: int, in_progress_ttl_s: int) -> IdempotencyRecord | None:
        for _ in range(_PUT_ATTEMPTS):
            try:
                self._call(
                    "put_item",
                    TableName=self.table,
                    Item={
                        **_key(_idem(key)),
                        STATUS: {"S": IdempotencyStatus.IN_PROGRESS.value},
                        OWNER: {"S": owner},
                        EXPIRES_AT: _n(now + in_progress_ttl_s),
                    },
                    ConditionExpression=f"attribute_not_exists(#{PK}) OR #{EXPIRES_AT} <= :now",
                    ExpressionAttributeNames=_names(PK, EXPIRES_AT),
                    ExpressionAttributeValues={":now": _n(now)},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return None
            except _ConditionFailedError as lost:
                item = lost.item
            if item is None:  # a store that does not return the item it checked: read it
                item = self._call("get_item", TableName=self.table, Key=_key(_idem(key)), ConsistentRead=True).get(
                    "Item"
                )
            if item is not None and int(item[EXPIRES_AT]["N"]) > now:
                result = item.get(RESULT)
                return IdempotencyRecord(
                    key,
                    IdempotencyStatus(item[STATUS]["S"]),
                    None if result is None else json.loads(result["S"]),
                    int(item[EXPIRES_AT]["N"]),
                )
            # gone or expired since the write was refused: claim it again
        raise TransientStoreError(f"idempotency key {key!r} kept changing under {_PUT_ATTEMPTS} attempts to claim it")

    def complete(self, key: str, result: JSON, *, owner: str, now: int, ttl_s: int) -> None:
        try:
            self._call(
                "update_item",
                TableName=self.table,
                Key=_key(_idem(key)),
                UpdateExpression=f"SET #{STATUS} = :done, #{RESULT} = :r, #{EXPIRES_AT} = :a REMOVE #{OWNER}",
                ConditionExpression=f"#{STATUS} = :in_progress AND #{OWNER} = :owner",
                ExpressionAttributeNames=_names(STATUS, RESULT, EXPIRES_AT, OWNER),
                ExpressionAttributeValues={
                    ":done": {"S": IdempotencyStatus.COMPLETED.value},
                    ":r": {"S": _dumps(result)},
                    ":a": _n(now + ttl_s),
                    ":in_progress": {"S": IdempotencyStatus.IN_PROGRESS.value},
                    ":owner": {"S": owner},
                },
            )
        except _ConditionFailedError:
            raise ConflictError(f"idempotency key {key!r} is not claimed by {owner!r}") from None

    def abandon(self, key: str, *, owner: str) -> None:
        with suppress(_ConditionFailedError):  # not (or no longer) this owner's claim: leave it
            self._call(
                "delete_item",
                TableName=self.table,
                Key=_key(_idem(key)),
                ConditionExpression=f"#{STATUS} = :in_progress AND #{OWNER} = :owner",
                ExpressionAttributeNames=_names(STATUS, OWNER),
                ExpressionAttributeValues={
                    ":in_progress": {"S": IdempotencyStatus.IN_PROGRESS.value},
                    ":owner": {"S": owner},
                },
            )

    # -- CoordinationStore: leases ---------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, *, now: int, ttl_s: int) -> bool:
        try:
            self._call(
                "put_item",
                TableName=self.table,
                Item={**_key(_lease(name)), OWNER: {"S": owner}, EXPIRES_AT: _n(now + ttl_s)},
                ConditionExpression=f"attribute_not_exists(#{PK}) OR #{OWNER} = :owner OR #{EXPIRES_AT} <= :now",
                ExpressionAttributeNames=_names(PK, OWNER, EXPIRES_AT),
                ExpressionAttributeValues={":owner": {"S": owner}, ":now": _n(now)},
            )
            return True
        except _ConditionFailedError:
            return False

    def release_lease(self, name: str, owner: str) -> None:
        with suppress(_ConditionFailedError):  # someone else's (or nobody's) lease: leave it
            self._call(
                "delete_item",
                TableName=self.table,
                Key=_key(_lease(name)),
                ConditionExpression=f"#{OWNER} = :owner",
                ExpressionAttributeNames=_names(OWNER),
                ExpressionAttributeValues={":owner": {"S": owner}},
            )

    # -- the boundary ----------------------------------------------------------------------------

    def _request(self, operation: str, **request: Any) -> dict[str, Any]:
        """One client call, throttling retried with backoff; the SDK's own errors otherwise."""
        method = getattr(self.client, operation)
        answer: dict[str, Any] = with_backoff(
            lambda: method(**request),
            throttled=_throttled,
            what=f"DynamoDB {operation} on {request.get('TableName', '?')}",
            policy=self._backoff,
            sleep=self._sleep,
            rng=self._rng,
        )
        return answer

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        """`_request`, its errors as the ports' (a lost condition as `_ConditionFailed`)."""
        try:
            return self._request(operation, **request)
        except ClientError as e:
            if _code(e) == _CONDITION_FAILED:
                raise _ConditionFailedError(e.response.get("Item")) from None
            raise _translate(e, f"DynamoDB {operation} on {request.get('TableName', '?')}") from e
        except BotoCoreError as e:
            raise _translate(e, f"DynamoDB {operation} on {request.get('TableName', '?')}") from e


# -- helpers -------------------------------------------------------------------------------------

_UNEXPIRED = f"(attribute_not_exists(#{EXPIRES_TS}) OR #{EXPIRES_TS} > :now)"
_ABSENT_OR_EXPIRED = f"attribute_not_exists(#{PK}) OR #{EXPIRES_TS} <= :now"


def _doc(key: str) -> str:
    return f"doc#{key}"


def _series(symbol: str, timeframe_s: int) -> str:
    return f"candle#{symbol}#{timeframe_s}"


def _idem(key: str) -> str:
    return f"idem#{key}"


def _lease(name: str) -> str:
    return f"lease#{name}"


def _key(pk: str) -> dict[str, Any]:
    """The key of a single-item kind (documents, idempotency records, leases): sort key 0."""
    return {PK: {"S": pk}, SK: {"N": "0"}}


def _doc_item(key: str, body: str, version: int, expires_ts: float | None) -> dict[str, Any]:
    item = {**_key(_doc(key)), BODY: {"S": body}, VERSION: _n(version)}
    if expires_ts is not None:
        item[EXPIRES_TS] = _n(expires_ts)
        item[EXPIRES_AT] = _n(math.ceil(expires_ts))
    return item


def _live_version(item: dict[str, Any] | None, now: float) -> int:
    """The version a conditional write lost to: 0 when there is no live document."""
    if item is None or VERSION not in item or expired(_opt_num(item, EXPIRES_TS), now):
        return 0
    return int(item[VERSION]["N"])


def _names(*attributes: str) -> dict[str, str]:
    return {f"#{a}": a for a in attributes}


def _n(number: float) -> dict[str, str]:
    """A Number attribute value. Floats go through their shortest repr, so they come back exactly."""
    if isinstance(number, int):
        return {"N": str(number)}
    return {"N": format(Decimal(repr(number)), "f")}


def _opt_num(item: dict[str, Any], attribute: str) -> float | None:
    value = item.get(attribute)
    return None if value is None else float(value["N"])


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _throttled(e: BaseException) -> bool:
    return isinstance(e, ClientError) and _code(e) in THROTTLING


def _translate(e: ClientError | BotoCoreError, what: str) -> StoreError:
    """The SDK's error as the ports' error: unavailable is transient, the rest is not."""
    if isinstance(e, ClientError):
        code = _code(e)
        message = e.response.get("Error", {}).get("Message", "")
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code == "ResourceNotFoundException":
            return StoreError(f"{what}: the table does not exist; create it (DynamoStore.create_tables or Terraform)")
        if code in _UNAVAILABLE or status >= 500:
            return TransientStoreError(f"{what}: DynamoDB is unavailable ({code}: {message})")
        return StoreError(f"{what}: {code}: {message}")
    if isinstance(e, BotoConnectionError | HTTPClientError):
        return TransientStoreError(f"{what}: could not reach DynamoDB ({e})")
    return StoreError(f"{what}: {e}")
