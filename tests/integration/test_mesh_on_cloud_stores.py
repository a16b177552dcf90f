"""Whole cycles in mesh wiring on the real stand-ins: hot state and coordination in DynamoDB (moto server)
or in Firestore (the gcloud emulator), the ledger and the audit trail in Cosmos DB (cosmosdb-server).
The stages are the functions' local entry points chained by the in-process bus, the same code the Lambda
and Cloud Functions entry points call (those are tested with their real triggers in aws/ and gcp/).

Each test then reads what it left behind through the CLI, `coinswarm status --json` and
`coinswarm ledger verify`, configured as a user would (a TOML file naming the stores; the Cosmos key in
the environment), and the exactly-once scenarios each end with `ledger verify` passing on those stores:

* the same decision delivered 50 times at once, from 50 threads: one delivery runs, the 49 others are
  refused to be retried (ClaimInProgressError), and their retries hand on the same PlacementDone: one order,
  one fill;
* a crash after the broker accepted an order, before the claim was completed: the redeliveries that
  come while the dead worker's claim holds are refused to be retried, the one after it expired (Lambda's
  first retry of the killed invocation) reconciles by client order id and places nothing again;
* two overlapping cycles deciding for the same symbol: the trading lease lets only one of them trade;
* throttling at the adapter boundary (DynamoDB ProvisionedThroughputExceededException, Cosmos DB 429)
  through whole cycles: retried with backoff, nothing lost.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.cosmos.exceptions import CosmosHttpResponseError

from coinswarm.adapters.firestore_store import FirestoreStore
from coinswarm.adapters.lambda_invoke_bus import ASYNC_RETRY_DELAYS_S
from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.cli.main import main as coinswarm
from coinswarm.config.settings import Settings
from coinswarm.domain.models import FillRecorded
from coinswarm.errors import ClaimInProgressError
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.messages import DECISIONS, DecisionReady, encode
from coinswarm.stages.outbox import IN_PROGRESS_TTL_S
from coinswarm.wiring.bootstrap import App, Stores, build_app
from coinswarm.wiring.runner import CycleRunner
from decisions import buy_decision
from functions.local import local_handlers
from servers.cosmos import CosmosServer, history_store
from servers.gcloud import PROJECT
from servers.moto import REGION, aws_client, drop_dynamo_tables, new_dynamo_store

SYMBOLS = ("BTC-USD", "ETH-USD")
TF = 60
WARMUP = 50
HISTORY = 120


@dataclass
class CloudApp:
    app: App
    clock: SimulatedClock
    runner: CycleRunner
    handlers: dict[str, Any]
    config: Path  # the TOML a user would write for these stores
    closes: list[int]
    state_kind: str

    def run(self, times: list[int]) -> None:
        for ts in times:
            self.clock.set(ts)
            self.runner.run_cycle(ts)

    def deliver(self, topic: str, body: str) -> list[tuple[str, Any]]:
        """One delivery of `body` to the function consuming `topic`; what it hands on travels the bus on."""
        out = list(self.handlers[topic](body))
        self.forward(out)
        return out

    def forward(self, out: list[tuple[str, Any]]) -> None:
        assert self.runner.mesh is not None
        for topic, message in out:
            self.runner.mesh.bus.publish(topic, message)

    def fills(self) -> list[Any]:
        return [e.payload.fill for e in self.app.ledger.events() if isinstance(e.payload, FillRecorded)]


def _series(end: int) -> dict[str, list[Any]]:
    """Synthetic candles up to the current minute: the stores' candle TTLs run on the real clock."""
    start = end - HISTORY * TF
    return {
        s: synthetic_candles(s, HISTORY, seed=11 + i, start_ts=start, timeframe_s=TF, start_price=100.0 * (i + 1))
        for i, s in enumerate(SYMBOLS)
    }


def _toml(data: dict[str, Any]) -> str:
    lines = [f"symbols = {json.dumps(list(SYMBOLS))}"]
    for section, values in data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["dynamodb", "firestore"])
def cloud(
    request: pytest.FixtureRequest,
    cosmos_server: CosmosServer,
    cosmos_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., CloudApp]]:
    """`make(wrap_dynamo=None, wrap_cosmos=None)`: an App whose state and coordination live in the
    parametrized service and whose history lives in Cosmos DB; the wraps inject faults at the boundary."""
    kind = request.param
    prefix = f"cs{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("COINSWARM_AZURE__COSMOS_KEY", cosmos_server.key)
    for name in ("COINSWARM_CONFIG", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    sections: dict[str, Any] = {
        "committee": {"threshold": 0.45, "quorum": 1},
        "market": {"warmup_candles": WARMUP},
        "store": {"path": str(tmp_path / "unused.db"), "state": kind, "history": "cosmos", "coordination": kind},
        "azure": {
            "cosmos_endpoint": cosmos_server.endpoint,
            "cosmos_database": cosmos_database,
            "endpoint_discovery": False,
        },
    }
    made: list[Any] = []
    if kind == "dynamodb":
        endpoint = request.getfixturevalue("moto_server")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(name, "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        sections["aws"] = {"region": REGION, "endpoint_url": endpoint, "table_prefix": prefix}
    else:
        host = request.getfixturevalue("firestore_emulator")
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)  # how the CLI (a user's process) finds the emulator
        sections["gcp"] = {"project": PROJECT, "collection_prefix": prefix}
    config = tmp_path / "coinswarm.toml"
    config.write_text(_toml(sections))

    def make(*, wrap_dynamo: Callable[[Any], Any] | None = None, wrap_cosmos: Any = None) -> CloudApp:
        if kind == "dynamodb":
            client = aws_client("dynamodb", endpoint)
            state = new_dynamo_store(endpoint, client=wrap_dynamo(client) if wrap_dynamo else client, prefix=prefix)
            made.append(state)
        else:
            state = FirestoreStore(request.getfixturevalue("firestore_session_client"), prefix)
        history = history_store(cosmos_server, cosmos_database, wrap=wrap_cosmos)
        settings = Settings.model_validate(
            {**sections, "symbols": list(SYMBOLS), "azure": {**sections["azure"], "cosmos_key": cosmos_server.key}}
        )
        end = int(time.time()) // TF * TF
        data = _series(end)
        clock = SimulatedClock(end - HISTORY * TF)
        app = build_app(
            settings,
            market=ReplayMarketData(data, label="test series", recent_limit=WARMUP),
            clock=clock,
            stores=Stores(state, history, state),
        )
        handlers = local_handlers(app)
        runner = CycleRunner(app, wiring="mesh", handlers=handlers, owner=f"test-{prefix}")
        closes = sorted({c.close_ts for candles in data.values() for c in candles})
        return CloudApp(app, clock, runner, handlers, config, closes, kind)

    yield make
    for store in made:
        drop_dynamo_tables(store)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = coinswarm(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def verify_passes(capsys: pytest.CaptureFixture[str], c: CloudApp) -> dict[str, Any]:
    code, out = cli(capsys, "ledger", "verify", "--json", "--config", str(c.config))
    report: dict[str, Any] = json.loads(out)
    assert code == 0 and report["ok"], report
    assert report["events"] == len(c.app.ledger.events())
    return report


def trade_until_filled(c: CloudApp) -> list[Any]:
    for ts in c.closes[WARMUP : WARMUP + 60]:
        c.run([ts])
        if c.fills():
            return c.fills()
    raise AssertionError("no order filled in 60 cycles: the scenario proves nothing")


def a_buy(c: CloudApp, ts: int, cycle: str, intent_id: str, symbol: str = "BTC-USD") -> DecisionReady:
    price = c.app.state.recent_candles(symbol, TF, 1)[-1].close
    return buy_decision(
        symbol, cycle, ts, decision_id=f"{symbol}-{intent_id}", intent_id=intent_id, notional=200.0, price=price
    )


# -- a whole cycle, read back ----------------------------------------------------------------------


def test_cycles_keep_the_ledger_in_cosmos_and_positions_in_the_hot_store_and_status_reads_them_back(
    cloud: Callable[..., CloudApp], capsys: pytest.CaptureFixture[str]
) -> None:
    c = cloud()
    fills = trade_until_filled(c)
    ledger = c.app.ledger
    assert type(c.app.history).__name__ == "CosmosHistoryStore"
    # positions and cash: the paper book in the hot store agrees with the ledger folded from Cosmos DB
    book = c.app.state.get("paper:paper:book")
    assert book is not None
    portfolio = ledger.portfolio()
    assert book.value["positions"] == pytest.approx({s: h.quantity for s, h in portfolio.holdings.items()})
    assert book.value["cash"] == pytest.approx(portfolio.cash)

    code, out = cli(capsys, "status", "--json", "--config", str(c.config))
    assert code == 0, out
    status = json.loads(out)
    assert status["state"] == f"state {c.state_kind} · history cosmos · coordination {c.state_kind}"
    assert status["ledger_seq"] == portfolio.seq == len(ledger.events())
    assert status["cash"] == pytest.approx(portfolio.cash)
    decisions = c.app.history.recent_decisions(10)
    assert [d["decision_id"] for d in status["decisions"]] == [d.decision_id for d in decisions]
    code, text = cli(capsys, "status", "--config", str(c.config))
    assert code == 0 and f"history cosmos · coordination {c.state_kind}" in text
    assert fills[0].symbol in text  # the open position is listed
    verify_passes(capsys, c)


# -- exactly once ----------------------------------------------------------------------------------


def test_one_decision_delivered_50_times_at_once_gives_one_order_and_one_fill(
    cloud: Callable[..., CloudApp], capsys: pytest.CaptureFixture[str]
) -> None:
    c = cloud()
    c.run(c.closes[WARMUP : WARMUP + 3])
    ts = c.closes[WARMUP + 2]
    msg = a_buy(c, ts, f"cycle-{ts}", "cs-at-once-1")
    body = encode(msg)
    barrier = threading.Barrier(50)
    errors: list[BaseException] = []
    refused: list[ClaimInProgressError] = []
    all_refused = threading.Event()
    handed_on: list[tuple[str, Any]] = []
    broker = c.app.broker
    real_submit = broker.submit

    def submit_once_the_others_were_refused(order: Any) -> Any:
        assert all_refused.wait(120), f"only {len(refused)} of 49 deliveries were refused"
        return real_submit(order)  # the one delivery that runs is still running while the others arrive

    def deliver() -> None:
        try:
            barrier.wait()
            handed_on.extend(c.handlers[DECISIONS](body))  # fifty function instances at once
        except ClaimInProgressError as e:  # refused: the bus delivers it again later
            refused.append(e)
            if len(refused) == 49:
                all_refused.set()
        except BaseException as e:  # every other failure is reported below
            errors.append(e)

    broker.submit = submit_once_the_others_were_refused  # type: ignore[method-assign]
    threads = [threading.Thread(target=deliver) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    broker.submit = real_submit  # type: ignore[method-assign]
    assert errors == []
    assert len(refused) == 49 and len(handed_on) == 1  # one ran; each other one was refused, not acknowledged
    assert {e.key for e in refused} == {refused[0].key} and refused[0].key.startswith("placed:")
    assert all(0 < e.retry_after_s <= IN_PROGRESS_TTL_S for e in refused)
    [(topic, done)] = handed_on
    assert [o.client_order_id for o in done.orders] == ["cs-at-once-1"]
    # the bus's retries of the 49, later: each hands on the very PlacementDone the one that ran handed on
    c.clock.set(c.clock.now() + 1)
    for _ in refused:
        again = list(c.handlers[DECISIONS](body))
        assert [(t, encode(m)) for t, m in again] == [(topic, encode(done))]
        handed_on.extend(again)
    c.forward(handed_on)  # all fifty hand-ons reach trade logging
    pending = c.app.broker.pending("BTC-USD")  # type: ignore[attr-defined]
    assert [o.client_order_id for o in pending] == ["cs-at-once-1"]
    c.run([c.closes[WARMUP + 3]])  # the next cycle fills it
    mine = [f for f in c.fills() if f.client_order_id == "cs-at-once-1"]
    assert len(mine) == 1
    verify_passes(capsys, c)


def test_a_crash_after_the_broker_accepted_is_reconciled_not_placed_again(
    cloud: Callable[..., CloudApp], capsys: pytest.CaptureFixture[str]
) -> None:
    c = cloud()
    c.run(c.closes[WARMUP : WARMUP + 3])
    ts = c.closes[WARMUP + 2]
    msg = a_buy(c, ts, f"cycle-{ts}", "cs-crash-1")
    broker = c.app.broker
    submitted: list[str] = []
    real_submit = broker.submit

    def submit_then_die(order: Any) -> Any:
        submitted.append(order.client_order_id)
        real_submit(order)  # the venue has it ...
        raise SystemExit("the function's container died before it completed its claim")  # ... and we die

    broker.submit = submit_then_die  # type: ignore[method-assign]
    coordination = c.app.coordination
    coordination.abandon = lambda *a, **k: None  # killed outright: no `finally` of ours runs
    with pytest.raises(SystemExit):
        c.deliver(DECISIONS, encode(msg))
    broker.submit = real_submit  # type: ignore[method-assign]
    del coordination.abandon
    killed_at = c.clock.now()
    # redeliveries while the dead worker's claim holds (a push's retries, a duplicate of the queue's): each
    # refused to be retried, none acknowledged as done, nothing handed on or placed
    for after in (1, 5, IN_PROGRESS_TTL_S - 1):
        c.clock.set(killed_at + after)
        with pytest.raises(ClaimInProgressError, match="again later"):
            c.deliver(DECISIONS, encode(msg))
    assert submitted == ["cs-crash-1"]
    # Lambda's first retry of the killed invocation, a minute later: the claim expired, the retry takes it
    # over, finds the order by its client order id, and places nothing
    c.clock.set(killed_at + ASYNC_RETRY_DELAYS_S[0])
    out = c.deliver(DECISIONS, encode(msg))
    assert any("reconciled" in n for n in out[0][1].notes), out
    assert submitted == ["cs-crash-1"]
    assert broker.get_order("cs-crash-1") is not None  # the one order the venue holds
    c.run([c.closes[WARMUP + 3]])
    assert [f.client_order_id for f in c.fills()].count("cs-crash-1") == 1
    verify_passes(capsys, c)


def test_of_two_overlapping_cycles_only_one_trades_the_symbol(
    cloud: Callable[..., CloudApp], capsys: pytest.CaptureFixture[str]
) -> None:
    c = cloud()
    c.run(c.closes[WARMUP : WARMUP + 3])
    ts = c.closes[WARMUP + 2]
    # a cron overlap: the cycle for ts is still running when the next one, for ts + 1 minute, decides
    slow, fast = a_buy(c, ts, f"cycle-{ts}", "cs-slow"), a_buy(c, ts, f"cycle-{ts + TF}", "cs-fast")
    barrier = threading.Barrier(2)
    done: dict[str, Any] = {}

    def deliver(msg: DecisionReady) -> None:
        barrier.wait()
        done[msg.cycle_id] = c.handlers[DECISIONS](encode(msg))

    threads = [threading.Thread(target=deliver, args=(m,)) for m in (slow, fast)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for out in list(done.values()):
        c.forward(out)
    done = {cid: out[0][1] for cid, out in done.items()}
    placed = [cid for cid, out in done.items() if out.orders]
    refused = [cid for cid, out in done.items() if out.rejections]
    assert len(placed) == 1 and len(refused) == 1, done
    reason = done[refused[0]].rejections[0].reason
    assert "overlapping cycles" in reason
    assert c.app.history.recent_rejections(1)[0].reason == reason  # stored, for `coinswarm status`
    assert len(c.app.broker.pending("BTC-USD")) == 1  # type: ignore[attr-defined]
    # a redelivery of the refused cycle's decision stays refused: its claim is completed
    again = c.deliver(DECISIONS, encode(slow if refused[0] == slow.cycle_id else fast))[0][1]
    assert again.orders == ()
    # the next regular cycle, a timeframe later, trades again as usual
    later = a_buy(c, ts + 2 * TF, f"cycle-{ts + 2 * TF}", "cs-later")
    c.clock.set(c.clock.now() + TF)
    assert c.deliver(DECISIONS, encode(later))[0][1].orders != ()
    c.run([c.closes[WARMUP + 3]])
    verify_passes(capsys, c)


class Throttled:
    """Every third call of the named operations fails as the service does when it throttles."""

    def __init__(self, inner: Any, operations: set[str], error: Callable[[], BaseException]) -> None:
        self._inner, self._operations, self._error = inner, operations, error
        self.calls = 0
        self.throttled = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._operations:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls += 1
                fail = self.calls % 3 == 0
                self.throttled += fail
            if fail:
                raise self._error()
            return attr(*args, **kwargs)

        return call


def test_throttling_at_the_boundary_is_retried_and_nothing_is_lost(
    cloud: Callable[..., CloudApp], capsys: pytest.CaptureFixture[str]
) -> None:
    from botocore.exceptions import ClientError

    def ptee() -> BaseException:
        body = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled (injected)"}}
        return ClientError(body, "PutItem")

    def too_many() -> BaseException:
        return CosmosHttpResponseError(status_code=429, message="Request rate is large (injected)")

    dynamo_faults: list[Throttled] = []
    cosmos_faults: list[Throttled] = []

    def wrap_dynamo(client: Any) -> Any:
        dynamo_faults.append(Throttled(client, {"put_item", "update_item", "get_item", "query"}, ptee))
        return dynamo_faults[-1]

    def wrap_cosmos(name: str, container: Any) -> Any:
        cosmos_faults.append(Throttled(container, {"create_item", "upsert_item", "replace_item"}, too_many))
        return cosmos_faults[-1]

    c = cloud(wrap_dynamo=wrap_dynamo, wrap_cosmos=wrap_cosmos)
    fills = trade_until_filled(c)
    assert sum(f.throttled for f in cosmos_faults) > 0
    if c.state_kind == "dynamodb":
        assert sum(f.throttled for f in dynamo_faults) > 0
    # nothing lost: each fill in the ledger once, every decision stored, and `ledger verify` below finds the
    # paper book (in the hot store) equal to the ledger (in Cosmos DB): a lost or repeated fill would differ
    assert len({f.client_order_id for f in fills}) == len(fills)
    cycles = c.runner.cycles
    assert len(c.app.history.recent_decisions(10_000)) == cycles * len(SYMBOLS)
    verify_passes(capsys, c)


def test_an_unreachable_cloud_store_is_a_clear_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "coinswarm.toml"
    config.write_text(
        _toml(
            {
                "store": {"history": "cosmos", "path": str(tmp_path / "state.db")},
                "azure": {"cosmos_endpoint": "http://127.0.0.1:9", "endpoint_discovery": False},
            }
        )
    )
    SqliteStore(tmp_path / "state.db").close()
    secret = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ=="
    with pytest.MonkeyPatch.context() as m:
        m.setenv("COINSWARM_AZURE__COSMOS_KEY", secret)
        code, out = cli(capsys, "status", "--config", str(config))
    assert code != 0
    assert "127.0.0.1:9" in out and "Traceback" not in out
    assert secret not in out
