"""DynamoStore beyond the contract, on a real DynamoDB API (moto in server mode).

What the contract cannot show: throttling at the boundary (a wrapper around the injected boto3
client refuses calls the way DynamoDB does, then lets them through), the tables as deployed
(provisioned capacity within the free tier, TTL on), what the items carry for DynamoDB's own TTL,
candle retention, races between threads on one server, the configuration, and the cold start.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from coinswarm.adapters.dynamodb_store import FREE_TIER_RCU, FREE_TIER_WCU, TABLES, DynamoStore
from coinswarm.adapters.retry import Backoff
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle
from coinswarm.errors import ConflictError, StoreError, TransientStoreError
from coinswarm.ports.coordination import IdempotencyStatus
from servers.moto import DUMMY_CREDENTIALS, aws_client, drop_dynamo_tables, new_dynamo_store

NOW = 1_700_000_000
THROTTLED = "ProvisionedThroughputExceededException"


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class RefusingClient:
    """The injected boto3 client, with the first `times` calls of `operation` refused with `code`
    before they reach the server (as DynamoDB refuses a throttled request); the rest go through."""

    def __init__(self, inner: Any, operation: str, times: int, code: str = THROTTLED) -> None:
        self._inner = inner
        self._operation = operation
        self._code = code
        self.left = times
        self.passed = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._inner, name)
        if name != self._operation:
            return real

        def call(**request: Any) -> Any:
            if self.left > 0:
                self.left -= 1
                error = {"Code": self._code, "Message": "The level of configured provisioned throughput was exceeded"}
                raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, name)
            self.passed += 1
            return real(**request)

        return call


class ForgetfulClient:
    """The injected client, but a failed conditional write does not return the item it was checked
    against (as DynamoDB answers without ReturnValuesOnConditionCheckFailure)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._inner, name)

        def call(**request: Any) -> Any:
            try:
                return real(**request)
            except ClientError as e:
                e.response.pop("Item", None)
                raise

        return call if name == "put_item" else real


def _candle(ts: int, close: float = 100.0, *, timeframe_s: int = 60) -> Candle:
    return Candle(
        symbol="BTC-USD",
        ts=ts,
        open=close,
        high=close + 1,
        low=close - 1,
        close=close,
        volume=2.5,
        timeframe_s=timeframe_s,
    )


def _raw(store: DynamoStore, pk: str, sk: int = 0) -> dict[str, Any]:
    item = store.client.get_item(
        TableName=store.table, Key={"pk": {"S": pk}, "sk": {"N": str(sk)}}, ConsistentRead=True
    )
    return dict(item.get("Item", {}))


@pytest.fixture
def store_on(moto_server: str) -> Any:
    """`store_on(client_wrapper=None, **options)`: a fresh store, its client optionally wrapped."""
    made: list[DynamoStore] = []

    def make(wrap: Callable[[Any], Any] | None = None, **options: Any) -> DynamoStore:
        client = aws_client("dynamodb", moto_server)
        store: DynamoStore = new_dynamo_store(moto_server, client=wrap(client) if wrap else client, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        drop_dynamo_tables(store)


# -- throttling at the boundary ------------------------------------------------------------------


@pytest.mark.parametrize("code", [THROTTLED, "ThrottlingException", "RequestLimitExceeded"])
def test_a_throttled_write_is_retried_with_growing_delays_and_lands_once(store_on: Any, code: str) -> None:
    slept: list[float] = []
    wrapper: list[RefusingClient] = []

    def wrap(client: Any) -> RefusingClient:
        wrapper.append(RefusingClient(client, "put_item", times=3, code=code))
        return wrapper[0]

    store = store_on(wrap, sleep=slept.append, backoff=Backoff(attempts=5, base_s=0.1, cap_s=10.0), rng=lambda: 1.0)
    assert store.put("book", {"cash": 1.5}, expected_version=0) == 1
    assert slept == pytest.approx([0.1, 0.2, 0.4])
    assert wrapper[0].passed == 1
    got = store.get("book")
    assert got is not None and (got.value, got.version) == ({"cash": 1.5}, 1)


def test_throttling_in_the_middle_of_a_candle_batch_loses_nothing(store_on: Any) -> None:
    slept: list[float] = []
    store = store_on(lambda c: RefusingClient(c, "put_item", times=4), sleep=slept.append)
    assert store.put_candles([_candle(ts) for ts in range(0, 600, 60)]) == 10
    assert len(slept) == 4
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 100)] == list(range(0, 600, 60))


def test_throttled_reads_and_queries_are_retried_too(store_on: Any) -> None:
    slept: list[float] = []
    store = store_on(lambda c: RefusingClient(c, "query", times=2), sleep=slept.append)
    store.put_candles([_candle(0), _candle(60)])
    assert store.last_candle_ts("BTC-USD", 60) == 60
    assert len(slept) == 2


def test_throttling_that_outlasts_the_attempts_is_a_transient_error_and_writes_nothing(store_on: Any) -> None:
    slept: list[float] = []
    store = store_on(lambda c: RefusingClient(c, "update_item", times=100), sleep=slept.append, backoff=Backoff(4))
    with pytest.raises(TransientStoreError, match="still throttled after 4 attempts"):
        store.put("book", {"cash": 1.0})
    assert len(slept) == 3
    assert store.get("book") is None


def test_other_client_errors_are_not_retried(store_on: Any) -> None:
    slept: list[float] = []
    store = store_on(lambda c: RefusingClient(c, "get_item", times=1, code="ValidationException"), sleep=slept.append)
    with pytest.raises(StoreError) as caught:
        store.get("k")
    assert not isinstance(caught.value, TransientStoreError)
    assert slept == []


def test_a_missing_table_says_how_to_create_it(moto_server: str) -> None:
    store = DynamoStore(client=aws_client("dynamodb", moto_server), table_prefix=f"absent-{uuid.uuid4().hex[:8]}")
    with pytest.raises(StoreError, match="create_tables"):
        store.get("k")


def test_an_unreachable_endpoint_is_a_transient_error() -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = DynamoStore(client=aws_client("dynamodb", f"http://127.0.0.1:{port}"), table_prefix="nowhere")
    with pytest.raises(TransientStoreError, match="could not reach DynamoDB"):
        store.get("k")


# -- the tables ----------------------------------------------------------------------------------


def test_provisioned_capacity_stays_within_the_free_tier(store_on: Any) -> None:
    store = store_on()
    rcu = wcu = 0
    for name in store.table_names():
        table = store.client.describe_table(TableName=name)["Table"]
        parts = [table, *table.get("GlobalSecondaryIndexes", [])]
        rcu += sum(p["ProvisionedThroughput"]["ReadCapacityUnits"] for p in parts)
        wcu += sum(p["ProvisionedThroughput"]["WriteCapacityUnits"] for p in parts)
    assert 0 < rcu <= FREE_TIER_RCU
    assert 0 < wcu <= FREE_TIER_WCU
    assert (rcu, wcu) == (sum(t.read_capacity for t in TABLES), sum(t.write_capacity for t in TABLES))


def test_ttl_is_enabled_on_expires_at_and_create_tables_is_idempotent(store_on: Any) -> None:
    store = store_on()
    store.put("k", {"v": 1})
    store.create_tables()  # again: nothing changes, nothing is lost
    for name in store.table_names():
        ttl = store.client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
        assert store.client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"
    got = store.get("k")
    assert got is not None and got.version == 1


def test_short_lived_items_carry_whole_epoch_seconds_for_dynamodbs_ttl(store_on: Any) -> None:
    clock = Clock(NOW + 0.25)
    store = store_on(now=clock, candle_ttl_bars=10)
    store.put("flag", {"on": True}, ttl_s=10)
    store.put("forever", {"on": True})
    store.put_candles([_candle(0)])
    store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30)
    store.acquire_lease("ingest", "a", now=NOW, ttl_s=60)
    flag = _raw(store, "doc#flag")
    assert (flag["expires_at"]["N"], float(flag["expires_ts"]["N"])) == (str(NOW + 11), NOW + 10.25)
    assert "expires_at" not in _raw(store, "doc#forever")
    assert _raw(store, "candle#BTC-USD#60", 0)["expires_at"]["N"] == str(NOW + 601)
    assert _raw(store, "idem#job")["expires_at"]["N"] == str(NOW + 30)
    assert _raw(store, "lease#ingest")["expires_at"]["N"] == str(NOW + 60)
    clock.t = NOW + 10.25  # expired to the store at once, though DynamoDB may delete it up to days later
    assert store.get("flag") is None
    assert _raw(store, "doc#flag") != {}


def test_documents_keep_floats_and_text_exactly(store_on: Any) -> None:
    store = store_on()
    value = {"a": 0.1 + 0.2, "b": 1e-300, "c": 123456789.12345678, "d": -0.0, "e": '₿ "quoted" \n', "f": [1, [2.5]]}
    store.put("k", value)
    got = store.get("k")
    assert got is not None and json.dumps(got.value) == json.dumps(value)
    odd = Candle(symbol="BTC-USD", ts=0, open=42000.123456789, high=42001.1, low=0.1 + 0.2, close=1.0, volume=1e-9)
    store.put_candles([odd])
    assert store.recent_candles("BTC-USD", 60, 1) == [odd]


def test_candles_age_out_after_their_retention_and_can_be_stored_again(store_on: Any) -> None:
    clock = Clock()
    store = store_on(now=clock, candle_ttl_bars=5)
    assert store.put_candles([_candle(ts) for ts in range(0, 300, 60)]) == 5
    clock.t += 5 * 60 - 1
    assert store.last_candle_ts("BTC-USD", 60) == 240
    assert store.put_candles([_candle(240)]) == 0
    clock.t += 1
    assert store.last_candle_ts("BTC-USD", 60) is None
    assert store.recent_candles("BTC-USD", 60, 10) == []
    assert store.put_candles([_candle(0, close=200.0), _candle(60)]) == 2
    assert [c.close for c in store.recent_candles("BTC-USD", 60, 10)] == [200.0, 100.0]


def test_expired_candles_among_live_ones_are_skipped_page_after_page(store_on: Any) -> None:
    clock = Clock()
    store = store_on(now=clock, candle_ttl_bars=10)
    store.put_candles([_candle(ts) for ts in range(0, 300, 60)])  # written first: expire first
    clock.t += 300
    store.put_candles([_candle(ts) for ts in range(300, 600, 60)] + [_candle(ts) for ts in range(600, 900, 60)])
    clock.t += 300  # the first five have expired, physically still there among the others
    store.put_candles([_candle(120, close=150.0)])
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 3, until_ts=420)] == [300, 360, 420]
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 3, until_ts=299)] == [120]
    assert store.recent_candles("BTC-USD", 60, 20)[0].close == 150.0


def test_candle_ttl_none_keeps_candles(store_on: Any) -> None:
    clock = Clock()
    store = store_on(now=clock, candle_ttl_bars=None)
    store.put_candles([_candle(0)])
    clock.t += 10**9
    assert store.last_candle_ts("BTC-USD", 60) == 0
    assert "expires_at" not in _raw(store, "candle#BTC-USD#60", 0)
    with pytest.raises(ValueError, match="candle_ttl_bars"):
        DynamoStore(client=store.client, table_prefix="x", candle_ttl_bars=0)


def test_begin_reads_the_record_when_a_refused_write_does_not_return_it(store_on: Any) -> None:
    store = store_on(ForgetfulClient)
    assert store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30) is None
    store.complete("job", {"ok": True}, owner="w1", now=NOW, ttl_s=60)
    record = store.begin("job", owner="w2", now=NOW + 1, in_progress_ttl_s=30)
    assert record is not None and (record.status, record.result) == (IdempotencyStatus.COMPLETED, {"ok": True})
    store.put("k", {"v": 1})
    with pytest.raises(ConflictError):  # without the item the loser cannot say which version won
        store.put("k", {"v": 2}, expected_version=0)


def test_a_conflict_names_the_version_it_lost_to(store_on: Any) -> None:
    store = store_on()
    store.put("k", {"v": 1})
    store.put("k", {"v": 2})
    with pytest.raises(ConflictError, match="is at version 2, but the write expected version 0"):
        store.put("k", {"v": 3}, expected_version=0)
    with pytest.raises(ConflictError, match="is at version 2, but the write expected version 1"):
        store.put("k", {"v": 3}, expected_version=1)
    with pytest.raises(ConflictError, match="does not exist"):
        store.put("other", {"v": 3}, expected_version=1)


# -- races ---------------------------------------------------------------------------------------

RACERS = 8
ROUNDS = 6


def test_threads_racing_on_one_server_have_exactly_one_winner(store_on: Any) -> None:
    store = store_on()
    for r in range(ROUNDS):
        store.put(f"doc-{r}", {"by": "setup"})  # version 1: every racer will expect it
    barrier = threading.Barrier(RACERS, timeout=30)

    def run(racer: int) -> list[tuple[bool, bool, bool, int]]:
        outcomes = []
        try:
            for r in range(ROUNDS):
                barrier.wait()
                claimed = store.begin(f"job-{r}", owner=f"racer{racer}", now=NOW, in_progress_ttl_s=60) is None
                leased = store.acquire_lease(f"lease-{r}", f"racer{racer}", now=NOW, ttl_s=60)
                try:
                    store.put(f"doc-{r}", {"by": racer}, expected_version=1)
                    wrote = True
                except ConflictError:
                    wrote = False
                counted = store.put(f"counter-{r}", {"by": racer})
                outcomes.append((claimed, leased, wrote, counted))
            return outcomes
        except BaseException:
            barrier.abort()
            raise

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        per_racer = list(pool.map(run, range(RACERS)))
    for r in range(ROUNDS):
        outcomes = [per_racer[racer][r] for racer in range(RACERS)]
        for kind, name in enumerate(("begin", "lease", "versioned put")):
            assert sum(o[kind] for o in outcomes) == 1, f"round {r}: {name} {outcomes}"
        assert sorted(o[3] for o in outcomes) == list(range(1, RACERS + 1)), f"round {r}: unconditional puts"
        winner = next(racer for racer in range(RACERS) if per_racer[racer][r][2])
        doc = store.get(f"doc-{r}")
        assert doc is not None and (doc.value, doc.version) == ({"by": winner}, 2)
        counter = store.get(f"counter-{r}")
        assert counter is not None and counter.version == RACERS


# -- configuration and cold start ----------------------------------------------------------------


def test_from_settings_reads_settings_aws(moto_server: str) -> None:
    prefix = f"fs-{uuid.uuid4().hex[:8]}"
    settings = Settings.model_validate(
        {"aws": {"region": "eu-west-1", "endpoint_url": moto_server, "table_prefix": prefix}}
    )
    store = DynamoStore.from_settings(settings, **DUMMY_CREDENTIALS)
    try:
        assert store.client.meta.region_name == "eu-west-1"
        assert store.client.meta.endpoint_url == moto_server
        assert store.client.meta.config.retries["total_max_attempts"] == 1  # one retry policy: ours
        assert store.table_names() == [f"{prefix}-state"]
        store.create_tables()
        assert store.put("k", {"v": 1}) == 1
        assert (
            store.client.describe_table(TableName=f"{prefix}-state")["Table"]["TableArn"].split(":")[3] == "eu-west-1"
        )
    finally:
        drop_dynamo_tables(store)


def test_the_composition_root_serves_state_and_coordination_from_one_dynamo_store(moto_server: str) -> None:
    from coinswarm.wiring.bootstrap import open_stores

    settings = Settings.model_validate(
        {
            "store": {"backend": "memory", "state": "dynamodb", "coordination": "dynamodb"},
            "aws": {"endpoint_url": moto_server},
        }
    )
    stores = open_stores(settings)  # builds clients only: no request is made
    assert isinstance(stores.state, DynamoStore)
    assert stores.coordination is stores.state
    assert type(stores.history).__name__ == "MemoryStore"


def test_importing_the_adapter_loads_no_google_or_azure_module() -> None:
    code = (
        "import sys\n"
        "def clouds(): return {m for m in sys.modules if m.split('.')[0] in ('google', 'azure')}\n"
        "before = clouds()\n"  # (functions-framework's .pth pre-creates empty google namespace stubs)
        "import coinswarm.adapters.dynamodb_store\n"
        "assert 'boto3' in sys.modules\n"
        "extra = sorted(clouds() - before)\n"
        "assert not extra, extra\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
