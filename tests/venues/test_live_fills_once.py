"""Issue 10 item 1, against the fake exchange on Coinbase and on Binance: a fill the venue lists twice is
booked once; a fill that claims more than was ordered, a negative fee or a price far from the order's is
flagged, logged and shown by `coinswarm status`, not booked; and whenever the live book and the ledger
disagree, new orders stop until the owner runs `coinswarm live ack`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from live_helpers import LiveRun, start_live
from venue_helpers import FakeClock

from coinswarm.adapters.live_broker import book_key
from coinswarm.venues.fake import FakeExchange, Fault

FILLS_PATH = {"coinbase": "/orders/historical/fills", "binance": "/api/v3/myTrades"}
VENUES = ["coinbase", "binance"]


@pytest.fixture(params=VENUES)
def venue(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def live(tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, pem: str) -> LiveRun:
    fake.engine.set_price("BTC-USDT", 60_000.0)
    return start_live(tmp_path, venue, fake, clock, pem)


def verify_passes(run: LiveRun) -> None:
    code, out = run.cli("ledger", "verify")
    assert code == 0 and "OK" in out, out


def book(run: LiveRun) -> dict:  # type: ignore[type-arg]
    found = run.app.state.get(book_key(run.settings.account))
    assert found is not None
    return dict(found.value)


def test_a_fill_listed_twice_is_booked_once(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    duplicate = fake.faults.add(Fault("duplicate", path=FILLS_PATH[venue], times=1_000))
    run.run_until(lambda: len(run.filled_cids()) >= 3 and run.settled())  # buy, sell, buy: each listed twice
    assert sum(1 for f in fake.faults.fired if f[0] == "duplicate") >= 3
    assert duplicate.times < 1_000
    run.assert_exactly_once()  # the ledger holds exactly the venue's fills: each once
    held = sum(o.filled if o.side == "BUY" else -o.filled for o in fake.engine.placed)
    symbol = run.settings.symbols[0]  # Binance reports sizes to 8 decimals
    assert book(run)["positions"].get(symbol, 0.0) == pytest.approx(held, abs=1e-8 * len(fake.engine.placed))
    assert not book(run).get("halt"), book(run).get("halt")
    assert run.failed_cycles == []
    verify_passes(run)


@pytest.mark.parametrize(
    ("what", "factor", "said"),
    [("size", 2.0, "more than"), ("fee", 1.0, "negative fee"), ("price", 1.5, "away from the order's")],
)
def test_a_fill_that_is_not_believable_is_flagged_not_booked_and_halts_until_ack(
    tmp_path: Path,
    venue: str,
    fake: FakeExchange,
    clock: FakeClock,
    ec_private_pem: str,
    caplog: pytest.LogCaptureFixture,
    what: str,
    factor: float,
    said: str,
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    fake.faults.add(Fault("misreport", path=FILLS_PATH[venue], what=what, factor=factor))  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="coinswarm.live"):
        run.run_until(lambda: bool(fake.engine.placed) and run.settled())
    first = fake.engine.placed[0]
    assert first.filled > 0 and first.client_order_id not in run.ledger_fills(), "the flagged fill was booked"
    assert any(said in r.getMessage() and "not booked" in r.getMessage() for r in caplog.records)
    code, out = run.cli("status")
    assert code == 0 and "HALTED" in out and said in out and "live ack" in out, out
    placed = len(fake.engine.placed)
    run.run_until(lambda: any("halted" in n for n in run.refusals()), most=200)
    assert len(fake.engine.placed) == placed, "an order reached the venue while trading was halted"
    code, out = run.cli("live", "ack")
    assert code == 0 and "halt lifted" in out, out
    code, out = run.cli("status")
    assert "HALTED" not in out, out
    run.run_until(lambda: len(fake.engine.placed) > placed and run.settled(), most=200)  # trading goes on
    verify_passes(run)


def test_a_book_that_disagrees_with_the_ledger_stops_new_orders_until_ack(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    run.run_until(lambda: len(run.filled_cids()) >= 1 and run.settled())
    key = book_key(run.settings.account)
    found = run.app.state.get(key)
    assert found is not None
    doubled = {**found.value, "positions": {s: q * 2 for s, q in found.value["positions"].items()}}
    run.app.state.put(key, doubled, expected_version=found.version)  # what a double booking did
    placed = len(fake.engine.placed)
    run.run_until(lambda: any("disagree" in n for n in run.refusals()), most=200)
    assert len(fake.engine.placed) == placed, "an order reached the venue while the book and the ledger disagreed"
    code, out = run.cli("status")
    assert "HALTED" in out and "the book and the ledger disagree" in out, out
    code, out = run.cli("live", "ack")
    assert code == 0 and "halt lifted" in out and "BTC-" in out, out
    run.run_until(lambda: len(fake.engine.placed) > placed and run.settled(), most=200)
    run.assert_exactly_once()
    verify_passes(run)
