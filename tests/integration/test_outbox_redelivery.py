"""Nothing lost on redelivery: a stage that committed its state and then failed to publish hands on the
very same messages when the message comes again, and nothing twice; a delivery killed mid-run leaves its
claim in progress, and the redeliveries are refused until it expires (then the work runs once).

For tick_ingest (candles stored), agent_scoring (the agents' memory saved) and committee_vote (the
decision recorded), each through its local entry point (the functions' own code) on real stores: the
embedded SQLite file, DynamoDB on the moto server, and Firestore on the gcloud emulator (hot state and
coordination; the history stays in SQLite, as Cosmos DB's own tests cover it). A publish failure is the
outputs thrown away after the handler returned: the state is committed, nothing went on. Then the
redelivery, and the cycle's messages travel on.

The stages get the Outbox that mesh wiring gives them (the composition root's `outbox`); a control test shows
that without it each of the three stages hands on nothing (or, for the vote, other bodies) again.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coinswarm.adapters.firestore_store import FirestoreStore
from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.config.settings import Settings
from coinswarm.domain.models import FillRecorded
from coinswarm.errors import ClaimInProgressError
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.messages import CANDLES, DECISIONS, SCORES, TICK, CycleTick, Message, encode
from coinswarm.stages.outbox import IN_PROGRESS_TTL_S, NO_OUTBOX
from coinswarm.wiring.bootstrap import App, Stores, build_app
from functions.local import local_handlers
from servers.moto import drop_dynamo_tables, new_dynamo_store

SYMBOLS = ("BTC-USD", "ETH-USD")
TF = 60
START = 1_700_000_000 - 1_700_000_000 % TF
WARMUP = 50
BACKENDS = ("sqlite", "dynamodb", "firestore")


def settings(warmup: int = WARMUP) -> Settings:
    data = Settings().model_dump()
    data["symbols"] = list(SYMBOLS)
    data["committee"]["threshold"] = 0.45  # trades within a short synthetic session
    data["market"]["warmup_candles"] = warmup
    return Settings.model_validate(data)


def bodies(outputs: list[tuple[str, Message]]) -> list[tuple[str, str]]:
    return [(topic, encode(message)) for topic, message in outputs]


@dataclass
class Mesh:
    """The functions' local entry points over one store; `deliver` is one delivery of one body, and
    `publish` puts what a delivery handed on on the queue, drained first in, first out."""

    app: App
    clock: SimulatedClock
    handlers: dict[str, Callable[[str], Any]]
    kind: str
    lose: Callable[[str, str], bool] = lambda topic, body: False
    delivered: int = 0

    def deliver(self, topic: str, body: str) -> list[tuple[str, Message]]:
        self.delivered += 1
        return list(self.handlers[topic](body))

    def run(self, first: tuple[str, str]) -> None:
        """Deliver and publish until the queue is empty. A publish that `lose` picks fails after the handler
        returned (the state is committed, nothing goes on), and the queue delivers the message again."""
        queue: deque[tuple[str, str]] = deque([first])
        while queue:
            topic, body = queue.popleft()
            if topic not in self.handlers:
                continue
            out = self.deliver(topic, body)
            if self.lose(topic, body):
                queue.append((topic, body))  # not acknowledged: the queue redelivers it
                continue
            queue.extend(bodies(out))

    def cycle(self, ts: int) -> None:
        self.clock.set(ts)
        self.run((TICK, encode(CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=SYMBOLS))))

    def memory_version(self, symbol: str) -> int:
        found = self.app.state.get(f"agents:{symbol}")
        return found.version if found else 0


def series() -> dict[str, list[Any]]:
    return {
        s: synthetic_candles(s, 160, seed=8 + i, start_ts=START, timeframe_s=TF, start_price=100.0 * (i + 1))
        for i, s in enumerate(SYMBOLS)
    }


def closes() -> list[int]:
    return sorted({c.close_ts for c in series()[SYMBOLS[0]]})


@pytest.fixture
def make_mesh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Mesh]]:
    made: list[Callable[[], None]] = []

    def make(kind: str, *, outbox: bool = True, warmup: int = WARMUP) -> Mesh:
        clock = SimulatedClock(START)
        sqlite = SqliteStore(tmp_path / f"{uuid.uuid4().hex[:8]}.db")
        hot: Any = sqlite
        if kind == "dynamodb":
            hot = new_dynamo_store(request.getfixturevalue("moto_server"), now=lambda: float(clock.now()))
            made.append(lambda store=hot: drop_dynamo_tables(store))
        elif kind == "firestore":
            client = request.getfixturevalue("firestore_session_client")
            hot = FirestoreStore(client, f"outbox-{uuid.uuid4().hex[:16]}", now=lambda: float(clock.now()))
        app = build_app(
            settings(warmup),
            market=ReplayMarketData(series(), label="test series"),
            clock=clock,
            stores=Stores(hot, sqlite, hot),
            outbox=outbox,  # mesh wiring keeps one by default; the control test turns it off
        )
        return Mesh(app, clock, dict(local_handlers(app)), kind)

    yield make
    for drop in made:
        drop()


def warm(mesh: Mesh, cycles: int = 3) -> int:
    """A few clean cycles after the warm-up history; the close of the next cycle."""
    times = closes()
    for ts in times[WARMUP : WARMUP + cycles]:
        mesh.cycle(ts)
    return times[WARMUP + cycles]


@pytest.mark.parametrize("kind", BACKENDS)
def test_ingest_redelivered_after_a_lost_publish_hands_on_the_same_candles_once(make_mesh, kind: str) -> None:
    mesh = make_mesh(kind)
    ts = warm(mesh)
    mesh.clock.set(ts)
    tick = encode(CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=SYMBOLS))
    first = mesh.deliver(TICK, tick)  # the candles are stored ... and the publish fails
    stored = {s: mesh.app.state.last_candle_ts(s, TF) for s in SYMBOLS}
    assert [m.symbol for _, m in first] == list(SYMBOLS)
    assert all(stored[m.symbol] == m.candles[-1].ts for _, m in first)
    again = mesh.deliver(TICK, tick)  # the redelivery
    assert bodies(again) == bodies(first)
    assert [topic for topic, _ in again] == [CANDLES, CANDLES]  # one per symbol, nothing twice
    assert {s: mesh.app.state.last_candle_ts(s, TF) for s in SYMBOLS} == stored
    assert bodies(mesh.deliver(TICK, tick)) == bodies(first)  # and so on, however often it comes
    # the cycle goes on from the redelivered hand-on: every symbol decided at this close, once
    for topic, body in bodies(again):
        mesh.run((topic, body))
    decided = [d for d in mesh.app.history.recent_decisions(100) if d.ts == ts]
    assert sorted(d.symbol for d in decided) == sorted(SYMBOLS)


@pytest.mark.parametrize("kind", BACKENDS)
def test_scoring_redelivered_after_a_lost_publish_hands_on_the_same_scores_once(make_mesh, kind: str) -> None:
    mesh = make_mesh(kind)
    ts = warm(mesh)
    mesh.clock.set(ts)
    candles = bodies(mesh.deliver(TICK, encode(CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=SYMBOLS))))
    _, body = candles[0]
    before = mesh.memory_version(SYMBOLS[0])
    first = mesh.deliver(CANDLES, body)  # the agents' memory is saved ... and the publish fails
    assert mesh.memory_version(SYMBOLS[0]) == before + 1
    again = mesh.deliver(CANDLES, body)
    assert bodies(again) == bodies(first)
    assert [topic for topic, _ in again] == [SCORES]
    assert mesh.memory_version(SYMBOLS[0]) == before + 1  # the agents took the candle in once
    assert again[0][1].scored[-1].candle.close_ts == ts


@pytest.mark.parametrize("kind", BACKENDS)
def test_vote_redelivered_after_a_lost_publish_hands_on_the_same_decision_once(make_mesh, kind: str) -> None:
    mesh = make_mesh(kind)
    ts = warm(mesh)
    mesh.clock.set(ts)
    ((_, candles),) = bodies(mesh.deliver(TICK, encode(CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=SYMBOLS[:1]))))
    ((_, scores),) = bodies(mesh.deliver(CANDLES, candles))
    first = mesh.deliver(SCORES, scores)  # the decision is recorded ... and the publish fails
    again = mesh.deliver(SCORES, scores)
    assert bodies(again) == bodies(first)  # body for body: the pattern cache's hit on the repeat is not seen
    assert [topic for topic, _ in again] == [DECISIONS]
    (step,) = again[0][1].steps
    assert step.decision is not None and step.decision.decision_id == f"{SYMBOLS[0]}-{ts}"
    assert [d.decision_id for d in mesh.app.history.recent_decisions(100) if d.ts == ts] == [f"{SYMBOLS[0]}-{ts}"]


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_vote_killed_mid_run_is_refused_to_be_retried_until_its_claim_expires_then_decided_once(
    make_mesh, kind: str
) -> None:
    """The worker voting on the scores is killed before it recorded the decision: its claim stays in
    progress. The redeliveries that come meanwhile are refused (the bus keeps the message), none is
    acknowledged with nothing handed on; the first after the claim expired votes and hands the decision on."""
    mesh = make_mesh(kind)
    ts = warm(mesh)
    mesh.clock.set(ts)
    ((_, candles),) = bodies(mesh.deliver(TICK, encode(CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=SYMBOLS[:1]))))
    ((_, scores),) = bodies(mesh.deliver(CANDLES, candles))
    history, coordination = mesh.app.history, mesh.app.coordination

    def killed(decision: Any) -> None:
        raise SystemExit("the container was killed mid-run")

    history.record_decision = killed  # type: ignore[method-assign]
    coordination.abandon = lambda *a, **k: None  # type: ignore[method-assign]  # killed: no `finally` runs
    with pytest.raises(SystemExit):
        mesh.deliver(SCORES, scores)
    del history.record_decision, coordination.abandon
    for after in (1, 10, IN_PROGRESS_TTL_S - 1):
        mesh.clock.set(ts + after)
        with pytest.raises(ClaimInProgressError) as refused:
            mesh.deliver(SCORES, scores)
        assert refused.value.retry_after_s == IN_PROGRESS_TTL_S - after
    assert [d for d in history.recent_decisions(100) if d.ts == ts] == []
    mesh.clock.set(ts + IN_PROGRESS_TTL_S)
    taken_over = mesh.deliver(SCORES, scores)
    assert [topic for topic, _ in taken_over] == [DECISIONS]
    assert [d.decision_id for d in history.recent_decisions(100) if d.ts == ts] == [f"{SYMBOLS[0]}-{ts}"]
    assert bodies(mesh.deliver(SCORES, scores)) == bodies(taken_over)  # and kept for the later repeats


@pytest.mark.parametrize("kind", ("sqlite", "dynamodb"))
def test_whole_cycles_whose_every_first_publish_is_lost_end_as_clean_ones(make_mesh, kind: str) -> None:
    """Each message's first publish fails, on every hop; the queue redelivers it. The cycles end with the
    same decisions, orders and fills as a run where nothing failed, and every message went on once."""
    clean, flaky = make_mesh("sqlite", warmup=150), make_mesh(kind, warmup=150)
    failed: set[tuple[str, str]] = set()

    def lose_the_first_publish(topic: str, body: str) -> bool:
        if (topic, body) in failed:
            return False
        failed.add((topic, body))
        return True

    flaky.lose = lose_the_first_publish
    times = closes()[104:124]  # the first cycle takes the history in; the agents are warm and trade
    for ts in times:
        clean.cycle(ts)
        flaky.cycle(ts)
    assert {topic for topic, _ in failed} == {TICK, CANDLES, SCORES, DECISIONS, "placements"}
    assert flaky.delivered == 2 * clean.delivered  # each message twice: the lost publish, then the redelivery

    def outcome(mesh: Mesh) -> tuple[Any, ...]:
        decisions = sorted(
            (d.decision_id, d.action.value, d.confidence) for d in mesh.app.history.recent_decisions(10_000)
        )
        fills = [e.payload.fill for e in mesh.app.ledger.events() if isinstance(e.payload, FillRecorded)]
        return decisions, [(f.client_order_id, f.quantity, f.price) for f in fills]

    decisions, fills = outcome(flaky)
    assert len(decisions) == len(times) * len(SYMBOLS)
    assert fills, "the session should trade, or the test shows little"
    assert outcome(flaky) == outcome(clean)
    assert flaky.app.ledger.verify().ok


@pytest.mark.parametrize("stage", ("ingest", "scoring", "vote"))
def test_without_an_outbox_a_redelivery_loses_the_cycle(make_mesh, stage: str) -> None:
    """The control: what the outbox prevents. Without it, the committed state makes the stage treat the
    redelivery as done (ingest, scoring), or the vote hands on other bodies than the first time."""
    mesh = make_mesh("sqlite", outbox=False)
    assert mesh.app.stages.ingest.outbox is NO_OUTBOX
    ts = warm(mesh)
    mesh.clock.set(ts)
    tick = encode(CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=SYMBOLS[:1]))
    topic, body = TICK, tick
    if stage in ("scoring", "vote"):
        ((topic, body),) = bodies(mesh.deliver(TICK, tick))
    if stage == "vote":
        ((topic, body),) = bodies(mesh.deliver(CANDLES, body))
    first = mesh.deliver(topic, body)
    again = mesh.deliver(topic, body)
    assert first
    if stage == "vote":
        assert bodies(again) != bodies(first) and again[0][1].steps[0].decision.from_cache
    else:
        assert again == []


class FailingOnce:
    """The venue, except that the first candle request for `symbol` fails (a timeout, say)."""

    def __init__(self, inner: Any, symbol: str) -> None:
        self.inner, self.symbol, self.failed = inner, symbol, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def fetch_candles(self, symbol: str, timeframe_s: int, **window: Any) -> Any:
        if symbol == self.symbol and not self.failed:
            self.failed = True
            raise TimeoutError(f"{symbol}: the venue did not answer in time")
        return self.inner.fetch_candles(symbol, timeframe_s, **window)


@pytest.mark.parametrize("kind", ("sqlite", "dynamodb"))
def test_a_tick_that_failed_on_one_symbol_is_retried_without_losing_the_other(make_mesh, kind: str) -> None:
    """Ingest claims the tick per symbol: the first symbol's candles are stored and kept when the second
    symbol's request fails; the retry hands the first symbol's kept candles on and ingests the second."""
    mesh = make_mesh(kind)
    ts = warm(mesh)
    mesh.clock.set(ts)
    mesh.app.stages.ingest.market = FailingOnce(mesh.app.stages.ingest.market, SYMBOLS[1])
    tick = encode(CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=SYMBOLS))
    with pytest.raises(TimeoutError):
        mesh.deliver(TICK, tick)
    assert mesh.app.state.last_candle_ts(SYMBOLS[0], TF) == ts - TF  # committed before the failure
    again = mesh.deliver(TICK, tick)
    assert [m.symbol for _, m in again] == list(SYMBOLS)
    assert all(m.candles[-1].close_ts == ts for _, m in again)
    assert bodies(mesh.deliver(TICK, tick)) == bodies(again)
