"""Exits in live cycles against the local fake exchange, through the broker port: the cycle's own exit
check (the second line behind the stop resting at the venue) sells at market when the venue's price falls
through the stop, once; and the owner's flatten exits with the kill switch on."""

from __future__ import annotations

from pathlib import Path

import pytest
from live_helpers import SYMBOL, LiveRun, start_live
from venue_helpers import FakeClock

from coinswarm.domain.models import ExitReason, Fill, FillRecorded, Side
from coinswarm.stages.controls import flatten
from coinswarm.stages.exit_watch import exits_key
from coinswarm.stages.placement import kill_switch_on, set_kill_switch
from coinswarm.venues.fake import FakeExchange


@pytest.fixture(params=["coinbase", "binance"])
def venue(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ledger_fills(run: LiveRun) -> list[Fill]:
    return [e.payload.fill for e in run.app.ledger.events() if isinstance(e.payload, FillRecorded)]


def holding(tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, pem: str) -> tuple[LiveRun, Fill]:
    """A live run whose committee bought, and nothing sold yet."""
    fake.engine.set_price(SYMBOL[venue], 60_000.0)
    run = start_live(tmp_path, venue, fake, clock, pem)
    run.run_until(lambda: any(f.side is Side.BUY for f in ledger_fills(run)) and run.settled())
    fills = ledger_fills(run)
    assert [f.side for f in fills] == [Side.BUY], "the test needs an open position and no exit yet"
    assert run.app.state.get(exits_key(run.settings.account, SYMBOL[venue])) is not None
    return run, fills[0]


def test_the_cycle_sells_at_market_once_when_the_price_falls_through_the_stop(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run, entry = holding(tmp_path, venue, fake, clock, ec_private_pem)
    fake.engine.set_price(SYMBOL[venue], entry.price * 0.8)  # a fall of 20 %: through the 10 % stop
    run.run_until(lambda: any(f.side is Side.SELL for f in ledger_fills(run)) and run.settled(), most=5)
    (sold,) = [f for f in ledger_fills(run) if f.side is Side.SELL]
    assert sold.exit_reason is ExitReason.STOP_LOSS and sold.client_order_id.endswith("-sl")
    assert sold.quantity == pytest.approx(entry.quantity, rel=1e-3)  # to the venue's size precision
    assert sold.price < entry.price * 0.85  # the venue's market price, not the stop's: a market order
    assert run.broker.account().positions.get(SYMBOL[venue], 0.0) <= 1e-3 * entry.quantity  # a venue's rounding
    assert run.app.state.get(exits_key(run.settings.account, SYMBOL[venue])) is None
    assert not [o.client_order_id for o in fake.engine.placed if o.status == "OPEN"]  # its resting stop went too
    run.assert_exactly_once()
    code, out = run.cli("ledger", "verify")
    assert code == 0 and "OK" in out, out


def test_flatten_exits_at_the_venue_with_the_kill_switch_on(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run, entry = holding(tmp_path, venue, fake, clock, ec_private_pem)
    app = run.app
    set_kill_switch(app.state, True, reason="incident")
    placed_before = len(fake.engine.placed)
    run.run_until(lambda: True, most=1)  # a cycle with the kill switch on sends nothing
    assert len(fake.engine.placed) == placed_before and kill_switch_on(app.state)

    def record(fills: list[Fill]) -> None:
        for f in fills:
            app.ledger.record_fill(f)
        app.ledger.project()

    (done,) = flatten(app.stages.placement, None, now=int(clock.now), price_of=lambda s: None, record=record)
    assert done.rejection is None and done.order is not None, done
    assert [f.exit_reason for f in done.fills] == [ExitReason.FLATTEN]
    assert (
        fake.engine.placed[-1].client_order_id == done.order.client_order_id == f"cs-{SYMBOL[venue]}-{int(clock.now)}-f"
    )
    assert run.broker.account().positions.get(SYMBOL[venue], 0.0) <= 1e-3 * entry.quantity  # a venue's rounding
    assert sum(f.quantity for f in done.fills) == pytest.approx(entry.quantity, rel=1e-3)
    ids = [o.client_order_id for o in fake.engine.placed]
    assert len(ids) == len(set(ids)) and ids.count(done.order.client_order_id) == 1, ids  # each sent once
    assert not [o.client_order_id for o in fake.engine.placed if o.status == "OPEN"]  # no stop left resting
    code, out = run.cli("ledger", "verify")
    assert code == 0 and "OK" in out, out
