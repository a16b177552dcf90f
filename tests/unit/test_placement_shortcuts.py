"""The shortcuts order placement takes on every order give what the long way
gave: the stored order document, the risk day when someone else rewrote it, claim owners, and the
exit reason of a backtest's sell fills."""

from __future__ import annotations

import pytest

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.paper_broker import PaperBroker, order_document
from coinswarm.backtest.exits import ExitingBroker
from coinswarm.domain.exits import ExitRules
from coinswarm.domain.models import Candle, ExitReason, Order, OrderIntent, OrderStatus, Side
from coinswarm.domain.risk import RiskLimits
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.placement import PlacementStage, claim_owner

T0 = 1_700_000_000


@pytest.mark.parametrize(
    "order",
    [
        Order(client_order_id="cs-BTC-USD-1-b", symbol="BTC-USD", side=Side.BUY, fraction=0.5, placed_ts=1),
        Order(client_order_id="a", symbol="ETH-USD", side=Side.SELL, quantity=2.5, placed_ts=7, note="n"),
        Order(
            client_order_id="b",
            symbol="X-Y",
            side=Side.BUY,
            notional=float("inf"),
            placed_ts=0,
            status=OrderStatus.CANCELLED,
        ),
    ],
)
def test_the_stored_order_is_what_model_dump_gives(order: Order) -> None:
    stored = order_document(order)
    assert stored == order.model_dump(mode="json")
    assert list(stored) == list(order.model_dump(mode="json"))  # same keys, same order
    assert all(type(v) is type(w) for v, w in zip(stored.values(), order.model_dump(mode="json").values(), strict=True))


def _stage(limits: RiskLimits) -> tuple[MemoryStore, PlacementStage]:
    store = MemoryStore()
    broker = PaperBroker(store, starting_cash=10_000)
    stage = PlacementStage(broker, store, store, store, SimulatedClock(T0), limits, account="paper")
    return store, stage


def _buy(n: int) -> OrderIntent:
    return OrderIntent(
        intent_id=f"cs-BTC-USD-{T0 + n}-b", symbol="BTC-USD", side=Side.BUY, notional=100, reference_price=100, ts=T0
    )


def test_a_risk_day_rewritten_by_someone_else_is_read_not_the_one_placement_last_wrote() -> None:
    store, stage = _stage(RiskLimits(max_orders_per_day=3))
    assert stage.place(_buy(1), now=T0).order is not None
    day = store.get(stage.day_key)
    assert day is not None and day.value["orders"] == 1
    # another worker counted two more orders today: the limit of 3 is reached
    store.put(stage.day_key, {**day.value, "orders": 3}, expected_version=day.version)
    placed = stage.place(_buy(2), now=T0)
    assert placed.order is None and placed.rejection is not None
    assert "3 orders today" in placed.rejection.reason


def test_each_attempt_has_its_own_claim_owner() -> None:
    owners = {claim_owner() for _ in range(1_000)}
    assert len(owners) == 1_000
    assert all(len(owner) == 32 and int(owner, 16) >= 0 for owner in owners)  # 16 random bytes, in hex


def test_the_backtest_broker_has_a_sell_decision_filled_as_signal_and_the_paper_broker_alone_leaves_it() -> None:
    candles = [
        Candle(symbol="X-Y", ts=T0 + i * 300, open=100, high=101, low=99, close=100, volume=1.0, timeframe_s=300)
        for i in range(3)
    ]
    for wrapped in (False, True):
        paper = PaperBroker(MemoryStore(), starting_cash=1_000.0)
        broker = ExitingBroker(paper, candles, ExitRules()) if wrapped else paper
        broker.submit(Order(client_order_id=f"cs-X-Y-{T0}-b", symbol="X-Y", side=Side.BUY, fraction=1.0, placed_ts=T0))
        broker.settle("X-Y", 100.0, T0)
        sell = f"cs-X-Y-{T0 + 300}-s"
        broker.submit(Order(client_order_id=sell, symbol="X-Y", side=Side.SELL, fraction=1.0, placed_ts=T0 + 300))
        (fill,) = broker.settle("X-Y", 100.0, T0 + 300).fills
        assert fill.client_order_id == sell
        assert fill.exit_reason is (ExitReason.SIGNAL if wrapped else None)
