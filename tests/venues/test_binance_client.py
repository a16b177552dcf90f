"""The Binance spot client against the fake exchange on loopback, through every fault."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from venue_helpers import BN_SECRET, T0, FakeClock

from coinswarm.domain.models import Side
from coinswarm.errors import InsufficientFundsError, OrderNotFoundError, VenueAuthError
from coinswarm.venues.auth import BinanceKey
from coinswarm.venues.binance import BinanceClient
from coinswarm.venues.fake import FakeExchange, Fault
from coinswarm.venues.models import OrderRequest, VenueOrderStatus
from coinswarm.venues.ratelimit import Limit, TokenBucket

Make = Callable[..., BinanceClient]


def market_buy(cid: str = "cid-1", qty: float = 0.01) -> OrderRequest:
    return OrderRequest(cid, "BTCUSDT", Side.BUY, "market", base_size=qty)


def test_klines_page_by_a_thousand(fake: FakeExchange, make_binance: Make) -> None:
    start = int(T0) - 2500 * 60
    candles = make_binance().candles("BTCUSDT", 60, start, int(T0))
    assert len(candles) == 2500 and candles[0].ts == start and candles[-1].close_ts == int(T0)
    assert len({c.ts for c in candles}) == 2500
    assert len([r for r in fake.requests if r.path == "/api/v3/klines"]) == 3


def test_book_ticker(fake: FakeExchange, make_binance: Make) -> None:
    top = make_binance().book_ticker("BTCUSDT")
    assert top.symbol == "BTCUSDT" and top.bid < 60_000 < top.ask and top.ts == int(T0)


def test_the_clock_is_synced_with_the_server_and_again_when_it_drifts(
    clock: FakeClock, binance_key: BinanceKey
) -> None:
    with FakeExchange(clock=clock.time, binance_clock_offset_ms=20_000) as fake:  # Binance 20 s ahead
        fake.add_binance_key(binance_key.api_key, BN_SECRET)
        client = BinanceClient(binance_key, base_url=fake.url, clock=clock.time, sleep=clock.sleep)
        with client:
            assert client.api_restrictions().can_trade
            assert client.time.offset_ms == 20_000
            fake.binance.clock_offset_ms = -30_000  # the server's clock jumps: -1021, then a resync
            assert client.api_restrictions().can_view
            assert client.time.offset_ms == -30_000
            assert [r.path for r in fake.requests].count("/api/v3/time") == 2


def test_market_order_trades_and_lookup_by_client_order_id(fake: FakeExchange, make_binance: Make) -> None:
    client = make_binance()
    order = client.create_order(market_buy())
    assert order.status is VenueOrderStatus.FILLED and order.filled_size == pytest.approx(0.01)
    assert order.fees > 0 and order.average_price == pytest.approx(60_000 * 1.0002)
    same = client.get_order("BTCUSDT", client_order_id="cid-1")
    assert same.order_id == order.order_id
    trades = client.my_trades("BTCUSDT", order.order_id)
    assert sum(t.size for t in trades) == pytest.approx(0.01) and all(t.side is Side.BUY for t in trades)
    assert client.find_order("BTCUSDT", "never-placed") is None


def test_limit_order_rests_and_cancels(fake: FakeExchange, make_binance: Make) -> None:
    client = make_binance()
    order = client.create_order(OrderRequest("lim-1", "BTCUSDT", Side.BUY, "limit", base_size=0.01, limit_price=50_000))
    assert order.status is VenueOrderStatus.OPEN and order.limit_price == 50_000
    cancelled = client.cancel_order("BTCUSDT", client_order_id="lim-1")
    assert cancelled.status is VenueOrderStatus.CANCELLED
    with pytest.raises(OrderNotFoundError):
        client.cancel_order("BTCUSDT", client_order_id="lim-1")


def test_an_open_order_s_client_id_is_refused_as_a_duplicate_and_resolves_to_that_order(
    fake: FakeExchange, make_binance: Make
) -> None:
    client = make_binance()
    req = OrderRequest("lim-dup", "BTCUSDT", Side.BUY, "limit", base_size=0.01, limit_price=50_000)
    first = client.create_order(req)
    second = client.create_order(req)
    assert second.order_id == first.order_id and len(fake.engine.placed) == 1
    assert any(r.outcome == "answered" and r.method == "POST" for r in fake.requests)


def test_insufficient_balance_and_a_wrong_secret(
    fake: FakeExchange, make_binance: Make, binance_key: BinanceKey
) -> None:
    with pytest.raises(InsufficientFundsError, match="insufficient balance"):
        make_binance().create_order(market_buy(qty=1_000))
    wrong = BinanceKey(binance_key.api_key, "fake-wrong-secret-0123456789")
    with pytest.raises(VenueAuthError, match="-1022") as caught:
        make_binance(key=wrong).get_order("BTCUSDT", client_order_id="x")
    assert "fake-wrong-secret" not in str(caught.value) and BN_SECRET not in str(caught.value)


def test_a_key_that_can_withdraw_is_reported(fake: FakeExchange, make_binance: Make, binance_key: BinanceKey) -> None:
    fake.add_binance_key(binance_key.api_key, BN_SECRET, withdrawals=True)
    assert make_binance().api_restrictions().can_withdraw


@pytest.mark.parametrize(
    "fault",
    [
        Fault("rate_limit", path="/api/v3/order", method="POST", retry_after=5),
        Fault("server_error", path="/api/v3/order", method="POST"),
        Fault("server_error", path="/api/v3/order", method="POST", process=True),
        Fault("delay", path="/api/v3/order", method="POST", delay_s=0.6),
        Fault("drop", path="/api/v3/order", method="POST"),
    ],
    ids=["429", "503", "500-after-accept", "timeout-after-accept", "drop-after-accept"],
)
def test_one_market_order_through_every_fault(fake: FakeExchange, make_binance: Make, fault: Fault) -> None:
    """A filled market order's client id is free again at Binance: resending it would buy twice.
    The client looks it up first."""
    fake.faults.add(replace(fault))
    order = make_binance().create_order(market_buy("through-fault"))
    assert len(fake.engine.placed) == 1, "exactly one order, whatever happened on the way"
    assert order.order_id == fake.engine.placed[0].order_id and order.status is VenueOrderStatus.FILLED
    assert fake.faults.fired[0][0] == fault.kind
    assert fake.binance.bans == 0
    if fault.kind == "rate_limit":
        posts = [r for r in fake.requests if r.method == "POST"]
        assert posts[1].at - posts[0].at >= 5.0


def test_a_partial_fill_expires_the_rest(fake: FakeExchange, make_binance: Make) -> None:
    fake.faults.add(Fault("partial", path="/api/v3/order", fraction=0.25))
    order = make_binance().create_order(market_buy("partial", qty=0.04))
    assert order.status is VenueOrderStatus.EXPIRED and order.filled_size == pytest.approx(0.01)


def test_a_client_that_keeps_to_its_bucket_never_meets_429_or_418(clock: FakeClock, binance_key: BinanceKey) -> None:
    """The fake counts weight per minute like Binance (here a limit of 100) and bans whoever sends
    during a Retry-After; a bucket set to the same published limit keeps the client clear of both."""
    with FakeExchange(clock=clock.time, binance_weight_limit=100) as fake:
        fake.engine.set_price("BTCUSDT", 60_000.0)
        limit = Limit("binance weight", 100, 60.0, "test")
        bucket = TokenBucket.within(limit, clock=clock.time, sleep=clock.sleep)
        with BinanceClient(
            binance_key, base_url=fake.url, weight_bucket=bucket, sleep=clock.sleep, clock=clock.time
        ) as c:
            for _ in range(150):  # 300 weight: three minutes' worth
                c.book_ticker("BTCUSDT")
        assert {r.outcome for r in fake.requests} == {"answered"}
        assert fake.binance.bans == 0 and clock.now - T0 > 120


def test_a_429_is_waited_out_and_no_ban_follows(fake: FakeExchange, make_binance: Make) -> None:
    fake.faults.add(Fault("rate_limit", path="/api/v3/ticker/bookTicker", retry_after=9, times=2))
    client = make_binance()
    assert client.book_ticker("BTCUSDT").bid > 0
    outcomes = [r.outcome for r in fake.requests]
    assert outcomes == ["rate_limit", "rate_limit", "answered"] and fake.binance.bans == 0
    assert fake.requests[2].at - fake.requests[0].at >= 18
