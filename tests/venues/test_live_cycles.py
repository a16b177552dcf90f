"""Whole trading cycles in live mode against the local fake exchange, on Coinbase and on Binance, through
every fault the fake injects. After each: exactly one order at the venue per intent, the ledger holds
exactly the venue's fills and fees, and `coinswarm ledger verify` (the CLI's own function) passes."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from live_helpers import LiveRun, start_live
from venue_helpers import FakeClock

from coinswarm.stages.messages import DecisionReady
from coinswarm.venues.fake import FakeExchange, Fault

ORDER_PATH = {"coinbase": "/api/v3/brokerage/orders$", "binance": "/api/v3/order"}
LOOKUP_PATH = {"coinbase": "/orders/historical/batch", "binance": "/api/v3/order"}
VENUES = ["coinbase", "binance"]

ORDER_FAULTS = {
    "429 with Retry-After": Fault("rate_limit", method="POST", retry_after=3),
    "503 before the order was carried out": Fault("server_error", method="POST"),
    "500 after the order was accepted": Fault("server_error", method="POST", process=True),
    "timeout after the order was accepted": Fault("delay", method="POST", delay_s=0.6),
    "connection dropped after the order was accepted": Fault("drop", method="POST"),
}


@pytest.fixture(params=VENUES)
def venue(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def live(tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, pem: str, **options: object) -> LiveRun:
    fake.engine.set_price("BTC-USDT", 60_000.0)
    return start_live(tmp_path, venue, fake, clock, pem, **options)


def verify_passes(run: LiveRun) -> None:
    code, out = run.cli("ledger", "verify")
    assert code == 0 and "OK" in out, out


def trade_until_filled(run: LiveRun, count: int = 1) -> None:
    """Cycles until `count` orders have filled and nothing is pending."""
    run.run_until(lambda: len(run.filled_cids()) >= count and run.settled())


@pytest.mark.parametrize("fault_name", list(ORDER_FAULTS))
def test_a_fault_on_the_order_still_places_it_exactly_once(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str, fault_name: str
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    fault = fake.faults.add(replace(ORDER_FAULTS[fault_name], path=ORDER_PATH[venue]))
    trade_until_filled(run, 2)
    assert fault.times == 0 and fake.faults.fired[0][0] == fault.kind
    first = fake.engine.placed[0]
    order_posts = [r for r in fake.requests if r.method == "POST" and r.path == ORDER_PATH[venue].rstrip("$")]
    if fault.kind == "rate_limit":
        throttled, then = order_posts[0], order_posts[1]
        assert then.at - throttled.at >= 3.0, "Retry-After honoured"
    accepted = fault.kind in ("delay", "drop") or fault.process
    if accepted:  # looked up by client order id before anything else: found, not sent again
        lookups = [r for r in fake.requests if r.method == "GET" and LOOKUP_PATH[venue] in r.path]
        assert lookups and lookups[0].at >= order_posts[0].at
    assert first.client_order_id in run.filled_cids()
    run.assert_exactly_once()
    assert run.failed_cycles == []
    verify_passes(run)


def test_a_partial_fill_is_booked_as_filled_with_the_rest_cancelled(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    path = ORDER_PATH[venue].rstrip("$") + ("$" if venue == "coinbase" else "")
    fake.faults.add(Fault("partial", path=path, fraction=0.4))
    trade_until_filled(run)
    first = fake.engine.placed[0]
    assert first.status == "CANCELLED" and first.filled > 0
    quantity, _ = run.ledger_fills()[first.client_order_id]
    wanted = (first.quote_size or 0) / first.fills[0].price if first.quote_size else first.base_size or 0
    assert quantity == pytest.approx(0.4 * wanted, rel=1e-6)
    assert run.app.broker.get_order(first.client_order_id).status.value == "filled"  # type: ignore[union-attr]
    assert "after filling" in run.app.broker.get_order(first.client_order_id).note  # type: ignore[union-attr]
    run.assert_exactly_once()
    verify_passes(run)


def test_stale_prices_are_not_traded_on(
    tmp_path: Path,
    venue: str,
    fake: FakeExchange,
    clock: FakeClock,
    ec_private_pem: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem)
    trade_until_filled(run)  # warm, trading normally
    decided_before = len(run.done)
    orders_before = len(fake.engine.placed)
    candles = {"coinbase": "/candles", "binance": "/klines"}[venue]
    stale = fake.faults.add(Fault("stale", path=candles, times=10, stale_s=900))  # the feed 15 min behind
    run.run_until(lambda: stale.times == 0, most=20)
    # a stale feed delivers no new closed candle: nothing decided, nothing placed on old prices
    assert len(run.done) == decided_before and len(fake.engine.placed) == orders_before
    if venue == "coinbase":  # Binance's book ticker carries no time: there only candles can be stale
        top = fake.faults.add(Fault("stale", path="/best_bid_ask", times=3, stale_s=900))
        with caplog.at_level(logging.WARNING, logger="coinswarm.live"):
            run.run_until(lambda: top.times == 0, most=20)
        assert sum("stale, not used" in r.getMessage() for r in caplog.records) == 3
        assert len(run.done) > decided_before  # fresh candles: cycles decide again, without the stale quote
    trade_until_filled(run, len(run.filled_cids()) + 1)  # the missed candles are taken up, trading goes on
    assert run.failed_cycles == []
    run.assert_exactly_once()
    verify_passes(run)


def test_the_breaker_opens_stops_new_orders_shows_in_status_and_closes_after_a_probe(
    tmp_path: Path,
    venue: str,
    fake: FakeExchange,
    clock: FakeClock,
    ec_private_pem: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = live(tmp_path, venue, fake, clock, ec_private_pem, breaker_failures=3, breaker_cooldown_s=3600)
    outage: list[Fault] = []

    def venue_goes_down(msg: DecisionReady) -> None:  # the order endpoints fail from the moment of a decision
        if not outage and any(s.intent is not None for s in msg.steps):
            outage.append(fake.faults.add(Fault("server_error", path=ORDER_PATH[venue].rstrip("$"), times=10_000)))

    run.on_decision.append(venue_goes_down)
    with caplog.at_level(logging.WARNING, logger="coinswarm.venues"):
        run.run_until(lambda: bool(outage) and run.broker.venue.breaker.state().mode.value == "open", most=150)
    assert any("circuit breaker open" in r.getMessage() for r in caplog.records)
    code, out = run.cli("status")
    assert code == 0 and "circuit OPEN after" in out, out
    fake.faults.clear()  # the venue is back, but the breaker keeps refusing for its cooldown
    placed_before = len(fake.engine.placed)
    run.run_until(lambda: any("circuit open" in n for n in run.refusals()), most=150)
    assert len(fake.engine.placed) == placed_before, "no order reached the venue while the breaker was open"
    clock.now += 3600  # the cooldown passes: the next order is the probe, and it goes through
    trade_until_filled(run, len(run.filled_cids()) + 1)
    code, out = run.cli("status")
    assert "circuit closed" in out, out
    run.assert_exactly_once()
    verify_passes(run)


def test_the_mesh_wiring_trades_live_exactly_once_through_a_dropped_connection(
    tmp_path: Path, venue: str, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    """The same, with each stage its own function and JSON messages between them (as in the clouds)."""
    fake.engine.set_price("BTC-USDT", 60_000.0)
    run = start_live(tmp_path, venue, fake, clock, ec_private_pem, wiring="mesh")
    fault = fake.faults.add(Fault("drop", path=ORDER_PATH[venue], method="POST"))
    trade_until_filled(run, 3)
    assert fault.times == 0
    run.assert_exactly_once()
    assert run.failed_cycles == []
    verify_passes(run)
