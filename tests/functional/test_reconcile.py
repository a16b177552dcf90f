"""A crash after the broker accepted an order but before the claim was completed: the retry finds the
order by its client order id and places nothing again."""

from __future__ import annotations

import pytest

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.domain.models import Order, OrderIntent, Side
from coinswarm.domain.risk import RiskLimits
from coinswarm.errors import ClaimInProgressError
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.outbox import IN_PROGRESS_TTL_S
from coinswarm.stages.placement import PlacementStage

T0 = 1_700_000_000


def setup() -> tuple[MemoryStore, PaperBroker, SimulatedClock, PlacementStage, OrderIntent]:
    store = MemoryStore()
    broker = PaperBroker(store, starting_cash=10_000)
    clock = SimulatedClock(T0)
    stage = PlacementStage(broker, store, store, store, clock, RiskLimits(), account="paper")
    intent = OrderIntent(
        intent_id="cs-BTC-USD-1700000000-b", symbol="BTC-USD", side=Side.BUY, notional=500, reference_price=100, ts=T0
    )
    return store, broker, clock, stage, intent


def test_the_retry_after_a_crash_reconciles_instead_of_placing_again() -> None:
    store, broker, clock, stage, intent = setup()
    # the first attempt claimed the intent and reached the broker, then died
    assert (
        store.begin(f"order:{intent.intent_id}", owner="dead-worker", now=T0, in_progress_ttl_s=IN_PROGRESS_TTL_S)
        is None
    )
    broker.submit(Order(client_order_id=intent.intent_id, symbol="BTC-USD", side=Side.BUY, notional=500, placed_ts=T0))
    # a redelivery while the dead worker's claim is fresh is refused, to be retried (not answered "done")
    clock.set(T0 + 5)
    with pytest.raises(ClaimInProgressError) as refused:
        stage.place(intent, now=T0)
    assert refused.value.retry_after_s == IN_PROGRESS_TTL_S - 5
    assert [o.client_order_id for o in broker.pending()] == [intent.intent_id]  # nothing sent again
    # after the claim's TTL the retry takes over, finds the order by its id, and places nothing
    clock.set(T0 + IN_PROGRESS_TTL_S + 1)
    retry = stage.place(intent, now=T0)
    assert retry.duplicate and retry.order is not None and retry.order.client_order_id == intent.intent_id
    assert "reconciled" in retry.note
    assert [o.client_order_id for o in broker.pending()] == [intent.intent_id]
    # and the claim is completed now: the next duplicate is answered from it
    again = store.begin(
        f"order:{intent.intent_id}", owner="later", now=T0 + IN_PROGRESS_TTL_S + 2, in_progress_ttl_s=60
    )
    assert again is not None and again.result == {"client_order_id": intent.intent_id, "note": retry.note}
    fills = broker.settle("BTC-USD", 100.0, T0 + 60).fills
    assert len(fills) == 1


def test_a_fresh_intent_is_placed_once() -> None:
    _, broker, _, stage, intent = setup()
    placed = stage.place(intent, now=T0)
    assert placed.order is not None and not placed.duplicate and placed.note == ""
    assert len(broker.pending()) == 1
