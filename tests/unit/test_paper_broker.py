"""The paper broker on the in-memory store: next-open fills, fees, slippage, reductions and refusals."""

import pytest

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.domain.models import Order, OrderStatus, Side


def broker(
    cash: float = 1_000.0, fee_bps: float = 100.0, slippage_bps: float = 50.0, min_order: float = 10.0
) -> PaperBroker:
    return PaperBroker(
        MemoryStore(),
        starting_cash=cash,
        fee_bps=fee_bps,
        slippage_bps=slippage_bps,
        min_order_notional=min_order,
    )


def order(cid: str, side: Side, placed_ts: int = 60, **size: float) -> Order:
    return Order(client_order_id=cid, symbol="BTC-USD", side=side, placed_ts=placed_ts, **size)


def test_market_order_fills_at_the_next_observed_price_with_slippage_and_fee() -> None:
    b = broker()
    b.submit(order("a", Side.BUY, notional=500))
    assert b.settle("BTC-USD", 99.0, ts=0).fills == []  # a price from before the order: not yet
    fills = b.settle("BTC-USD", 100.0, ts=60).fills
    assert len(fills) == 1
    f = fills[0]
    assert f.price == pytest.approx(100.5)  # 50 bps against the buyer
    assert f.quantity == pytest.approx(500 / 100.5)
    assert f.fee == pytest.approx(5.0)  # 100 bps of the notional
    acct = b.account()
    assert acct.cash == pytest.approx(1_000 - 500 - 5)
    assert acct.positions["BTC-USD"] == pytest.approx(500 / 100.5)
    assert b.get_order("a").status is OrderStatus.FILLED
    assert b.settle("BTC-USD", 101.0, ts=120).fills == []  # filled once only


def test_submit_is_idempotent_on_the_client_order_id() -> None:
    b = broker()
    first = b.submit(order("a", Side.BUY, notional=100))
    second = b.submit(order("a", Side.BUY, notional=999))
    assert second == first and second.notional == 100
    assert len(b.settle("BTC-USD", 100.0, ts=60).fills) == 1


def test_a_buy_larger_than_the_cash_is_reduced_and_says_so() -> None:
    b = broker(cash=1_000)
    b.submit(order("a", Side.BUY, notional=5_000))
    (f,) = b.settle("BTC-USD", 100.0, ts=60).fills
    assert f.notional + f.fee == pytest.approx(1_000)
    assert b.account().cash == pytest.approx(0.0, abs=1e-9)
    assert f.note.startswith("reduced from") and "cash 1,000.00" in f.note


def test_a_buy_the_cash_cannot_cover_at_the_minimum_is_refused_and_says_so() -> None:
    b = broker(cash=5)
    b.submit(order("a", Side.BUY, notional=100))
    s = b.settle("BTC-USD", 100.0, ts=60)
    assert s.fills == [] and len(s.refused) == 1
    assert "refused: not enough cash" in s.refused[0].note
    assert b.get_order("a").status is OrderStatus.REJECTED
    assert b.account().cash == 5


def test_a_sell_larger_than_the_holding_is_reduced_and_balances_never_go_negative() -> None:
    b = broker(fee_bps=0, slippage_bps=0)
    b.submit(order("a", Side.BUY, notional=500))
    b.settle("BTC-USD", 100.0, ts=60)
    b.submit(order("b", Side.SELL, placed_ts=120, quantity=50))
    (f,) = b.settle("BTC-USD", 110.0, ts=120).fills
    assert f.quantity == pytest.approx(5) and "reduced from 50 to the 5 held" in f.note
    acct = b.account()
    assert acct.positions["BTC-USD"] == 0 and acct.cash == pytest.approx(1_050)


def test_fractions_resolve_at_fill_time() -> None:
    b = broker(fee_bps=10, slippage_bps=0)
    b.submit(order("a", Side.BUY, fraction=1.0))
    (f,) = b.settle("BTC-USD", 100.0, ts=60).fills
    assert f.notional + f.fee == pytest.approx(1_000)  # all the cash, fee included
    b.submit(order("b", Side.SELL, placed_ts=120, fraction=1.0))
    (g,) = b.settle("BTC-USD", 100.0, ts=120).fills
    assert g.quantity == f.quantity and b.account().positions["BTC-USD"] == 0


def test_sell_with_nothing_held_is_refused() -> None:
    b = broker()
    b.submit(order("a", Side.SELL, fraction=1.0))
    s = b.settle("BTC-USD", 100.0, ts=60)
    assert s.fills == [] and "nothing held" in s.refused[0].note


def test_cancel_withdraws_a_pending_order_only() -> None:
    b = broker()
    b.submit(order("a", Side.BUY, notional=100))
    assert [o.client_order_id for o in b.pending("BTC-USD")] == ["a"]
    assert b.cancel("a") and not b.cancel("a")
    assert b.settle("BTC-USD", 100.0, ts=60).fills == []
    assert b.get_order("a").status is OrderStatus.CANCELLED


def test_orders_of_other_symbols_wait_for_their_own_price() -> None:
    b = broker()
    b.submit(Order(client_order_id="e", symbol="ETH-USD", side=Side.BUY, notional=100, placed_ts=60))
    assert b.settle("BTC-USD", 100.0, ts=60).fills == []
    assert len(b.settle("ETH-USD", 10.0, ts=60).fills) == 1
    # prices are kept for what is held or traded (what risk values); a flat symbol's price is not stored
    assert b.account().prices == {"ETH-USD": 10.0}
    b.settle("ETH-USD", 11.0, ts=120)
    assert b.account().prices == {"ETH-USD": 11.0}


def test_the_book_lives_in_the_store_so_a_new_broker_sees_it() -> None:
    store = MemoryStore()
    PaperBroker(store, starting_cash=1_000).submit(order("a", Side.BUY, notional=100))
    again = PaperBroker(store, starting_cash=1_000)
    assert [o.client_order_id for o in again.pending()] == ["a"]
