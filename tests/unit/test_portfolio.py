"""Folding ledger events into cash, positions and P&L."""

import pytest

from coinswarm.domain.models import AccountOpened, Fill, FillRecorded, LedgerEvent, Side
from coinswarm.domain.portfolio import Portfolio, differences, fold


def fill(n: int, side: Side, qty: float, price: float, fee: float = 1.0, symbol: str = "BTC-USD") -> Fill:
    return Fill(
        fill_id=f"f{n}",
        client_order_id=f"o{n}",
        symbol=symbol,
        side=side,
        quantity=qty,
        price=price,
        fee=fee,
        ts=n,
    )


def events(*fills: Fill) -> list[LedgerEvent]:
    out = [LedgerEvent(stream="s", seq=1, event_id="open", payload=AccountOpened(cash=1_000, ts=0))]
    for i, f in enumerate(fills, start=2):
        out.append(LedgerEvent(stream="s", seq=i, event_id=f.fill_id, payload=FillRecorded(fill=f)))
    return out


def test_average_cost_realized_and_unrealized() -> None:
    p = fold(events(fill(1, Side.BUY, 2, 100), fill(2, Side.BUY, 2, 200), fill(3, Side.SELL, 1, 250)))
    h = p.holdings["BTC-USD"]
    assert h.quantity == 3 and h.avg_cost == pytest.approx(150)
    # the sell closes a quarter of the position: a quarter of the two entry fees is realized with it
    assert h.realized_pnl == pytest.approx((250 - 150) - 1 - 2 * 0.25)
    assert p.cash == pytest.approx(1_000 - 200 - 1 - 400 - 1 + 250 - 1)
    marks = {"BTC-USD": 160.0}
    assert p.unrealized_pnl(marks) == pytest.approx(3 * 10 - 2 * 0.75)
    # equity = deposit + realized + unrealized, always
    assert p.equity(marks) == pytest.approx(1_000 + p.realized_pnl() + p.unrealized_pnl(marks))
    assert p.fees == 3 and p.fills == 3 and p.seq == 4


def test_closing_resets_the_cost_basis() -> None:
    p = fold(events(fill(1, Side.BUY, 1, 100), fill(2, Side.SELL, 1, 110)))
    assert p.holdings["BTC-USD"].quantity == 0 and p.holdings["BTC-USD"].avg_cost == 0


def test_selling_more_than_held_does_not_fold() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        fold(events(fill(1, Side.BUY, 1, 100), fill(2, Side.SELL, 2, 110)))


def test_events_must_follow_in_sequence() -> None:
    evs = events(fill(1, Side.BUY, 1, 100))
    with pytest.raises(ValueError, match="does not follow"):
        fold([evs[1]])


def test_round_trip_through_a_dict_and_differences() -> None:
    p = fold(events(fill(1, Side.BUY, 1, 100), fill(2, Side.BUY, 1, 50, symbol="ETH-USD")))
    again = Portfolio.from_dict(p.to_dict())
    assert again == p
    assert differences(p.to_dict(), again.to_dict()) == []
    tampered = p.to_dict()
    tampered["holdings"]["BTC-USD"]["quantity"] = 2.0
    assert differences(p.to_dict(), tampered) == ["holdings.BTC-USD.quantity: events give 1.0, projection holds 2.0"]


def test_an_open_positions_entry_fee_is_unrealized_not_realized() -> None:
    """Issue 10 item 19: realized P&L belongs to closed quantities only."""
    p = fold(events(fill(1, Side.BUY, 2, 100, fee=4.0)))
    marks = {"BTC-USD": 110.0}
    assert p.realized_pnl() == 0.0
    assert p.unrealized_pnl(marks) == pytest.approx(2 * 10 - 4.0)
    assert p.equity(marks) == pytest.approx(1_000 + p.realized_pnl() + p.unrealized_pnl(marks))
    half = fold(events(fill(1, Side.BUY, 2, 100, fee=4.0), fill(2, Side.SELL, 1, 120, fee=1.0)))
    assert half.realized_pnl() == pytest.approx(20 - 1.0 - 2.0)  # half the entry fee closes with half the position
    assert half.unrealized_pnl(marks) == pytest.approx(10 - 2.0)
    assert half.equity(marks) == pytest.approx(1_000 + half.realized_pnl() + half.unrealized_pnl(marks))
    closed = fold(events(fill(1, Side.BUY, 2, 100, fee=4.0), fill(2, Side.SELL, 2, 120, fee=1.0)))
    assert closed.realized_pnl() == pytest.approx(40 - 1.0 - 4.0) and closed.unrealized_pnl(marks) == 0.0
    assert closed.cash == pytest.approx(1_000 + closed.realized_pnl())


def test_a_projection_stored_before_entry_fees_moved_is_folded_again() -> None:
    """A projection written by the old code (realized P&L with open entry fees, no format) is not read as is."""
    from coinswarm.adapters.memory_store import MemoryStore
    from coinswarm.stages.ledger import Ledger

    store = MemoryStore()
    ledger = Ledger(store, "s")
    ledger.open_account(1_000, 0)
    ledger.record_fill(fill(1, Side.BUY, 2, 100, fee=4.0))
    current = ledger.project()
    old = current.to_dict()
    del old["format"]
    del old["holdings"]["BTC-USD"]["open_fees"]
    old["holdings"]["BTC-USD"]["realized_pnl"] = -4.0
    stored = store.get_projection("s")
    assert stored is not None
    store.put_projection("s", old, expected_version=stored.version)
    assert not ledger.verify().ok and "older format" in ledger.verify().problems[0]
    assert ledger.portfolio().realized_pnl() == 0.0
    assert ledger.project().realized_pnl() == 0.0 and ledger.verify().ok
