"""The budget's per-cycle profile is what the code does: the real stages run over the in-memory store,
counted, must match `coinswarm.budget.profile`; sizes must stay within the figures the model bills."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.budget import profile as p
from coinswarm.config.settings import Settings
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.messages import PLACEMENTS, CycleTick, PlacementDone, encode
from coinswarm.wiring import bootstrap
from coinswarm.wiring.mesh import LocalMesh
from functions.aws_common import worth_sending
from functions.local import local_handlers

SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")
START = 1_700_000_000 - 1_700_000_000 % 60
TOPIC_OF = {
    "tick": "tick_ingest",
    "candles": "agent_scoring",
    "scores": "committee_vote",
    "decisions": "order_placement",
    "placements": "trade_logging",
}


class Counting:
    """Counts every call on a store, by the function running and the port, and keeps written sizes."""

    def __init__(self, inner: Any, port: str, running: list[str], calls: Counter, sizes: dict) -> None:
        self._inner, self._port, self._running, self._calls, self._sizes = inner, port, running, calls, sizes

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls[(self._running[-1], self._port, name)] += 1
            if name == "put":
                self._sizes.setdefault(args[0].split(":")[0], []).append(len(json.dumps(args[1])))
            if name == "complete":
                self._sizes.setdefault(f"outbox.{self._running[-1]}", []).append(len(json.dumps(args[1])))
            if name == "record_decision":
                self._sizes.setdefault("decision", []).append(len(args[0].model_dump_json()))
            return attr(*args, **kwargs)

        return call


def run_holds(monkeypatch, cycles: int = 60) -> tuple[Counter, dict, Counter, dict]:
    """`cycles` live cycles that only hold: quorum 3 with one venue (arbitrage abstains) never acts."""
    calls, sizes, messages, message_bytes, _ = run_cycles(monkeypatch, cycles, {"quorum": 3})
    return calls, sizes, messages, message_bytes


def run_cycles(
    monkeypatch, cycles: int, committee: dict[str, Any]
) -> tuple[Counter, dict, Counter, dict, list[PlacementDone]]:
    """`cycles` live cycles with these committee settings; also every PlacementDone order placement made."""
    data = Settings().model_dump()
    data["market"]["warmup_candles"] = 50
    data["committee"].update(committee)
    settings = Settings.model_validate(data)
    series = {
        s: synthetic_candles(s, 400, seed=3 + i, start_ts=START, timeframe_s=60, start_price=100.0 * (i + 1))
        for i, s in enumerate(SYMBOLS)
    }
    running, calls, sizes = ["setup"], Counter(), {}
    real_open = bootstrap.open_stores

    def counted(s: Settings, embedded: Any = None) -> bootstrap.Stores:
        st = real_open(s, embedded)
        ports = ((st.state, "state"), (st.history, "history"), (st.coordination, "coord"))
        return bootstrap.Stores(*(Counting(x, port, running, calls, sizes) for x, port in ports))

    monkeypatch.setattr(bootstrap, "open_stores", counted)
    clock = SimulatedClock(START)
    app = bootstrap.build_app(settings, market=ReplayMarketData(series, label="t"), store=MemoryStore(), clock=clock)

    def as_function(topic: str, handler: Any) -> Any:
        def run(body: str) -> Any:
            running.append(TOPIC_OF[topic])
            try:
                return handler(body)
            finally:
                running.pop()

        return run

    messages, message_bytes = Counter(), {}
    placed: list[PlacementDone] = []

    def tap(topic: str, message: Any) -> None:
        messages[topic] += 1
        message_bytes.setdefault(topic, []).append(len(encode(message).encode()))
        if isinstance(message, PlacementDone):
            placed.append(message)

    mesh = LocalMesh({t: as_function(t, h) for t, h in local_handlers(app).items()}, tap)
    closes = sorted({c.close_ts for c in series["BTC-USD"]})
    for ts in closes[60 : 60 + 2]:  # warm-up cycles: the first reads the history; not counted
        clock.set(ts)
        mesh.run(CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=SYMBOLS))
    calls.clear()
    messages.clear()
    message_bytes.clear()
    placed.clear()
    for kept in [k for k in sizes if k.startswith("outbox.")]:  # the first cycle kept the warm-up candles
        del sizes[kept]
    for ts in closes[62 : 62 + cycles]:
        clock.set(ts)
        mesh.run(CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=SYMBOLS))
    return calls, sizes, messages, message_bytes, placed


def per_symbol_cycle(calls: Counter, function: str, port: str, names: set[str], cycles: int = 60) -> float:
    return sum(n for (f, pt, name), n in calls.items() if f == function and pt == port and name in names) / (
        cycles * len(SYMBOLS)
    )


READS = {"get", "last_candle_ts", "recent_candles", "has_pending"}
WRITES = {"put", "put_candles", "delete"}


def test_state_operations_per_symbol_and_cycle_are_the_profiles(monkeypatch) -> None:
    calls, _, _, _ = run_holds(monkeypatch)
    for function in ("tick_ingest", "agent_scoring", "order_placement"):
        assert per_symbol_cycle(calls, function, "state", READS) == p.STATE_READS[function], function
    assert per_symbol_cycle(calls, "tick_ingest", "state", WRITES) == p.STATE_WRITES["tick_ingest"]
    assert per_symbol_cycle(calls, "agent_scoring", "state", WRITES) == p.STATE_WRITES["agent_scoring"]
    # placement writes the book and the exit state only when the symbol is held (nothing is here); the model
    # bills the held case (tests/functional/test_cycle_exits.py keeps the exit state written while held)
    assert per_symbol_cycle(calls, "order_placement", "state", WRITES) == 0
    assert p.STATE_WRITES["order_placement"] == 2
    assert (
        per_symbol_cycle(calls, "committee_vote", "history", {"record_decision"}) == p.HISTORY_WRITES["committee_vote"]
    )
    assert not [k for k in calls if k[0] == "trade_logging"]  # no fill, no work
    # the holes document is read every cycle and, with no candle missing, never written
    assert per_symbol_cycle(calls, "tick_ingest", "state", {"get"}) == 1


def test_each_outbox_claims_and_completes_once_per_symbol_and_cycle(monkeypatch) -> None:
    calls, sizes, _, _ = run_holds(monkeypatch)
    for function, writes in p.OUTBOX_WRITES.items():
        assert per_symbol_cycle(calls, function, "coord", {"begin", "complete"}) == writes, function
        assert per_symbol_cycle(calls, function, "coord", {"begin"}) == 1, function
        assert max(sizes[f"outbox.{function}"]) + p.OUTBOX_KEY_BYTES <= p.OUTBOX_BYTES[function], function
    assert not [k for k in calls if k[1] == "coord" and k[0] not in p.OUTBOX_WRITES]
    assert not [k for k in calls if k[1] == "coord" and k[2] not in {"begin", "complete"}]  # nothing failed
    assert not [k for k in calls if k[2] == "put" and k[1] == "history"]


def test_one_message_per_symbol_on_every_hop_an_order_or_not(monkeypatch) -> None:
    _, _, messages, _, placed = run_cycles(monkeypatch, 60, {"quorum": 3})
    assert messages == Counter({"tick": 60, "candles": 180, "scores": 180, "decisions": 180, "placements": 180})
    assert [topic for _, _, topic in p.HOPS] == ["candles", "scores", "decisions", "placements"]
    # ... but on AWS a PlacementDone without a fill is not handed on: trade_logging is never invoked for a hold
    assert len(placed) == 180 and not [m for m in placed if worth_sending(PLACEMENTS, m)]


def test_on_aws_trade_logging_is_invoked_once_per_fill_at_most_once_per_order(monkeypatch) -> None:
    # a committee that trades: the mean-reversion agent alone may act
    _, _, messages, _, placed = run_cycles(monkeypatch, 120, {"quorum": 1, "threshold": 0.45})
    handed_on = [m for m in placed if worth_sending(PLACEMENTS, m)]
    orders = sum(len(m.orders) for m in placed)
    fills = sum(len(m.fills) for m in placed)
    assert orders and fills, "the run traded nothing: it proves nothing"
    assert all(m.fills for m in handed_on) and fills == sum(len(m.fills) for m in handed_on)
    # the model's trade_logging invocations: one per order (each fills once, at a later cycle)
    assert len(handed_on) <= orders < len(placed)
    assert messages["placements"] == len(placed) == 120 * len(SYMBOLS)


def test_records_and_messages_fit_the_sizes_the_model_bills(monkeypatch) -> None:
    _, sizes, _, message_bytes = run_holds(monkeypatch)
    assert max(sizes["agents"]) <= p.AGENT_MEMORY_BYTES
    assert max(sizes["decision"]) <= p.DECISION_BYTES
    for topic, seen in message_bytes.items():
        if topic != "tick":
            assert max(seen) <= p.MESSAGE_BYTES[topic], topic
            assert max(seen) <= p.PUBSUB_MIN_BYTES or topic == "decisions"


def test_the_provisioned_capacities_mirror_the_deployed_tables() -> None:
    from coinswarm.adapters.dynamodb_store import STATE_TABLE, TABLES
    from functions.order_placement.aws import IDEMPOTENCY_TABLE

    assert TABLES == (STATE_TABLE,)
    assert (STATE_TABLE.read_capacity, STATE_TABLE.write_capacity) == p.STATE_TABLE_CAPACITY
    assert (IDEMPOTENCY_TABLE.read_capacity, IDEMPOTENCY_TABLE.write_capacity) == p.IDEMPOTENCY_TABLE_CAPACITY


def test_the_queues_the_model_polls_are_the_deployed_ones() -> None:
    from coinswarm.adapters.sqs_bus import QUEUES

    assert [(q.topic, q.consumer) for q in QUEUES] == [(topic, consumer) for _, consumer, topic in p.HOPS]
