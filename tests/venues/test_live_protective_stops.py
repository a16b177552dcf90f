"""Issue 13 item 4, against the fake exchange on Coinbase and on Binance: right after an entry fills, a
protective stop-limit sell rests at the venue (exits.stop_loss_pct below the entry); a stop the venue fills
while no cycle runs becomes a ledger exit with reason stop_loss at the next cycle; an exit by signal
cancels the stop first; a process that died between the entry's fill and the stop's placement is
protected by the next cycle; a doubtful stop placement is looked up by its client order id, never sent
twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from live_helpers import SYMBOL, LiveRun, start_live
from venue_helpers import FakeClock

from coinswarm.adapters.live_broker import LiveBroker, book_key
from coinswarm.domain.models import ExitReason, FillRecorded, Side
from coinswarm.venues.fake import FakeExchange, Fault
from coinswarm.venues.fake.engine import FakeOrder
from coinswarm.wiring.live import build_live_broker
from coinswarm.wiring.runner import LEASE

ORDER_PATH = {"coinbase": "/api/v3/brokerage/orders$", "binance": "/api/v3/order"}
VENUES = ["coinbase", "binance"]
STOP_LOSS = 0.10  # exits.stop_loss_pct's default, 10 %


@pytest.fixture(params=VENUES)
def venue(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def live(tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, pem: str, **options: object) -> LiveRun:
    fake.engine.set_price("BTC-USDT", 60_000.0)
    return start_live(tmp_path, venue, fake, clock, pem, **options)


def stops(fake: FakeExchange) -> list[FakeOrder]:
    return [o for o in fake.engine.placed if o.kind == "stop_limit"]


def entries(fake: FakeExchange) -> list[FakeOrder]:
    return [o for o in fake.engine.placed if o.kind == "market" and o.side == "BUY"]


def held(run: LiveRun) -> float:
    found = run.app.state.get(book_key(run.settings.account))
    assert found is not None
    return float(found.value["positions"].get(SYMBOL[run.settings.primary_venue.name], 0.0))


def verify_passes(run: LiveRun) -> None:
    code, out = run.cli("ledger", "verify")
    assert code == 0 and "OK" in out, out


def assert_protects_the_entry(run: LiveRun, fake: FakeExchange) -> FakeOrder:
    (entry,) = entries(fake)
    (stop,) = stops(fake)
    assert stop.client_order_id == f"{entry.client_order_id}-sl1" and stop.side == "SELL" and stop.status == "OPEN"
    assert stop.base_size == pytest.approx(held(run), abs=1e-6)  # rounded down to the venue's size step
    assert stop.stop_price == pytest.approx(entry.average * (1 - STOP_LOSS), rel=1e-6)
    assert stop.limit_price is not None and stop.limit_price < stop.stop_price
    return stop


def test_a_stop_rests_at_the_venue_right_after_the_entry_fills(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    run.run_until(lambda: bool(entries(fake)) and run.settled())
    stop = assert_protects_the_entry(run, fake)
    code, out = run.cli("status")
    assert code == 0 and f"resting at {venue}: {stop.client_order_id}" in out, out
    run.assert_exactly_once()
    verify_passes(run)


def test_a_stop_filled_while_no_cycle_ran_becomes_a_stop_loss_exit_in_the_ledger(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    run.run_until(lambda: bool(entries(fake)) and run.settled())
    stop = assert_protects_the_entry(run, fake)
    assert stop.stop_price is not None
    fake.engine.set_price(SYMBOL[venue].replace("-", ""), stop.stop_price * 0.997)  # the market falls: it triggers
    assert stop.status == "FILLED", "the fake's stop triggers on its price, with no request"
    run.run_until(lambda: stop.client_order_id in run.filled_cids(), most=5)  # the next cycle reconciles
    exits = [
        e.payload.fill
        for e in run.app.ledger.events()
        if isinstance(e.payload, FillRecorded) and e.payload.fill.client_order_id == stop.client_order_id
    ]
    assert exits and all(f.exit_reason is ExitReason.STOP_LOSS and f.side is Side.SELL for f in exits)
    assert sum(f.quantity for f in exits) == pytest.approx(stop.filled, abs=1e-8)
    assert held(run) == pytest.approx(0.0, abs=1e-6) or len(entries(fake)) > 1  # dust below the size step stays
    run.assert_exactly_once()
    verify_passes(run)


def test_an_exit_by_signal_cancels_the_resting_stop_first(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    signal_sells = lambda: [o for o in fake.engine.placed if o.kind == "market" and o.side == "SELL"]  # noqa: E731
    run.run_until(lambda: bool(signal_sells()) and run.settled())
    (stop,) = [s for s in stops(fake) if s.client_order_id.startswith(entries(fake)[0].client_order_id)]
    sell = signal_sells()[0]
    assert stop.status == "CANCELLED" and not stop.fills, "the stop was cancelled, unfilled"
    assert sell.created >= stop.created and sell.filled == pytest.approx(entries(fake)[0].filled, abs=1e-6)
    cancels = [r for r in fake.requests if "batch_cancel" in r.path or (r.method == "DELETE" and "order" in r.path)]
    sends = [r for r in fake.requests if r.method == "POST" and r.path == ORDER_PATH[venue].rstrip("$")]
    assert cancels and cancels[0].at <= sends[2].at, "cancelled before the sell was sent"  # entry, stop, sell
    assert not [s for s in stops(fake) if s.status == "OPEN" and s.created <= sell.created]
    run.assert_exactly_once()
    verify_passes(run)


def test_a_crash_between_the_entry_fill_and_the_stop_is_protected_by_the_next_cycle(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    # the first process books the entry's fill and dies before placing its stop (here: it never places one)
    first = live(tmp_path, venue, fake, clock, ec_private_pem, protective_stops=False)
    first.run_until(lambda: bool(entries(fake)) and first.settled())
    assert held(first) > 0 and not stops(fake)
    # the next process on the same state (the dead one's run lease gone with it): its first cycle protects
    # the position
    first.app.coordination.release_lease(LEASE, f"test-{id(first)}")
    second = start_live(tmp_path, venue, fake, clock, ec_private_pem)
    second.run_until(lambda: bool(stops(fake)), most=1)
    assert_protects_the_entry(second, fake)
    verify_passes(second)


def test_a_doubtful_stop_placement_is_looked_up_not_sent_twice(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    fault = fake.faults.add(Fault("drop", method="POST", path=ORDER_PATH[venue], times=2))  # the entry's, the stop's
    run.run_until(lambda: bool(stops(fake)) and run.settled())
    assert fault.times == 0 and [f[0] for f in fake.faults.fired] == ["drop", "drop"]
    stop = assert_protects_the_entry(run, fake)  # accepted once, found by its client order id
    for _ in range(3):  # later cycles follow the same stop
        run.run_until(lambda: True, most=1)
    same_entry = [s for s in stops(fake) if s.client_order_id.startswith(entries(fake)[0].client_order_id)]
    assert [s.client_order_id for s in same_entry] == [stop.client_order_id], "the stop was sent again"
    run.assert_exactly_once()
    verify_passes(run)


def test_the_kill_switch_places_no_new_stop_and_leaves_a_resting_one(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    first = live(tmp_path, venue, fake, clock, ec_private_pem, protective_stops=False)
    first.run_until(lambda: bool(entries(fake)) and first.settled())
    first.app.coordination.release_lease(LEASE, f"test-{id(first)}")
    code, out = first.cli("kill-switch", "on", "--reason", "testing")
    assert code == 0, out
    second = start_live(tmp_path, venue, fake, clock, ec_private_pem)
    second.run_until(lambda: True, most=3)
    assert not stops(fake), "the kill switch sends no order at all, not even a stop"
    code, out = second.cli("kill-switch", "off")
    assert code == 0, out
    second.run_until(lambda: bool(stops(fake)), most=2)
    stop = assert_protects_the_entry(second, fake)
    code, out = second.cli("kill-switch", "on", "--reason", "again")
    second.run_until(lambda: True, most=2)
    assert stop.status == "OPEN", "a resting stop stays while the kill switch is on"


def test_a_stop_filling_in_two_parts_across_a_restart_books_each_trade_once(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    """The stop's fill listing is asked again at every settle while it rests partly filled, and by a new
    process after a restart, with each trade listed twice: each is booked once (issue 10 item 1, across
    answers and restarts). Settled directly (no committee: a SELL vote would cancel the stop)."""
    market = SYMBOL[venue].replace("-", "")
    symbol = SYMBOL[venue]
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    run.run_until(lambda: bool(entries(fake)))
    fake.faults.add(Fault("partial", method="POST", path=ORDER_PATH[venue], fraction=0.5))  # the stop's POST
    run.run_until(lambda: bool(stops(fake)) and run.settled())
    stop = assert_protects_the_entry(run, fake)
    assert stop.stop_price is not None and stop.limit_price is not None
    fake.engine.set_price(market, stop.stop_price * 0.997)  # triggers: half fills
    fake.engine.set_price(market, stop.limit_price * 0.98)  # then the market falls below its limit: it rests
    assert stop.status == "OPEN" and len(stop.fills) == 1
    fake.faults.add(
        Fault("duplicate", path="/orders/historical/fills" if venue == "coinbase" else "/myTrades", times=9)
    )

    def settle(broker: LiveBroker) -> int:
        clock.now += 60
        fills = broker.settle(symbol, fake.engine.price(market), int(clock.now)).fills
        for f in fills:
            run.app.ledger.record_fill(f)
        run.app.ledger.project()
        return len(fills)

    assert settle(run.broker) == 1 and settle(run.broker) == 0  # the same trade, in a second answer
    restarted = build_live_broker(
        run.settings, run.app.state, venue=run.broker.venue, clock=clock.time, history=lambda: run.app.history
    )
    assert settle(restarted) == 0  # and in a third, to a new process
    fake.engine.set_price(market, stop.limit_price * 1.002)  # back above its limit: the rest fills
    assert stop.status == "FILLED" and len(stop.fills) == 2
    assert settle(restarted) == 1
    run.assert_exactly_once()  # the ledger holds each of the venue's trades once
    assert held(run) == pytest.approx(0.0, abs=1e-6)
    found = run.app.state.get(book_key(run.settings.account))
    assert found is not None and not found.value.get("halt"), found.value.get("halt")
    verify_passes(run)


def test_a_trailing_stop_moves_up_by_cancel_and_replace_never_two_resting(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    market = SYMBOL[venue].replace("-", "")
    exits = {"stop_loss_pct": 10.0, "trailing_stop_pct": 2.0, "trailing_offset_pct": 1.0}
    run = live(tmp_path, venue, fake, clock, ec_private_pem, exits=exits)
    run.run_until(lambda: bool(stops(fake)) and run.settled())
    first = assert_protects_the_entry(run, fake)
    entry = entries(fake)[0]
    fake.engine.set_price(market, entry.average * 1.05)  # 5 % up: past the 1 % offset, the stop trails 2 % below
    run.run_until(lambda: len(stops(fake)) >= 2, most=3)
    assert first.status == "CANCELLED" and not first.fills
    resting = [s for s in stops(fake) if s.status == "OPEN"]
    assert len(resting) == 1, "never two resting"
    (moved,) = resting
    assert moved.created >= first.created and moved.stop_price is not None and first.stop_price is not None
    assert moved.stop_price > first.stop_price
    bid = fake.engine.top(market)[0]
    assert moved.stop_price == pytest.approx(fake.engine.price(market) * 0.98, rel=0.01) and moved.stop_price < bid
    placed = len(stops(fake))
    fake.engine.set_price(market, entry.average * 1.035)  # back down, above the stop: it never moves down
    run.run_until(lambda: True, most=2)
    assert len(stops(fake)) == placed or entries(fake)[-1] is not entry  # (a new entry re-sizes it)
    assert moved.status == "OPEN" or entries(fake)[-1] is not entry
    run.assert_exactly_once()
    verify_passes(run)
