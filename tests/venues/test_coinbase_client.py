"""The Coinbase Advanced Trade client against the fake exchange on loopback, through every fault."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from venue_helpers import CB_KEY_NAME, T0, FakeClock

from coinswarm.domain.models import Side
from coinswarm.errors import CircuitOpenError, InsufficientFundsError, TemporaryVenueError, VenueAuthError
from coinswarm.venues.auth import CoinbaseKey
from coinswarm.venues.coinbase import CoinbaseClient
from coinswarm.venues.fake import FakeExchange, Fault
from coinswarm.venues.models import OrderRequest, VenueOrderStatus

Make = Callable[..., CoinbaseClient]


def market_buy(cid: str = "cid-1", quote: float = 1000.0) -> OrderRequest:
    return OrderRequest(cid, "BTC-USD", Side.BUY, "market", quote_size=quote)


def test_candles_page_through_a_long_range_and_skip_what_the_venue_lacks(
    fake: FakeExchange, make_coinbase: Make
) -> None:
    start = int(T0) - 1000 * 60
    fake.engine.missing_candles.add(start + 400 * 60)
    candles = make_coinbase().candles("BTC-USD", 60, start, int(T0))
    assert len(candles) == 999 and [c.ts for c in candles] == sorted(c.ts for c in candles)
    assert candles[0].ts == start and candles[-1].close_ts == int(T0)
    assert start + 400 * 60 not in {c.ts for c in candles}
    pages = [r for r in fake.requests if r.path.endswith("/candles")]
    assert len(pages) == 4 and all("granularity=ONE_MINUTE" in r.query for r in pages)


def test_public_candles_need_no_key(fake: FakeExchange, make_coinbase: Make) -> None:
    candles = make_coinbase(key=None).candles("BTC-USD", 300, int(T0) - 3000, int(T0))
    assert len(candles) == 10
    assert all("/market/products/" in r.path for r in fake.requests)


def test_book_top_product_book_and_ticker(fake: FakeExchange, make_coinbase: Make) -> None:
    client = make_coinbase()
    (top,) = client.best_bid_ask(["BTC-USD"])
    assert top.bid < 60_000 < top.ask and top.ts == int(T0)
    book = client.product_book("BTC-USD", limit=5)
    assert len(book.bids) == 5 and book.bids[0][0] > book.bids[-1][0] and book.asks[0][0] < book.asks[-1][0]
    assert client.ticker("BTC-USD").price == 60_000.0


def test_a_stale_price_carries_the_time_it_was_true(fake: FakeExchange, make_coinbase: Make) -> None:
    fake.faults.add(Fault("stale", path="/ticker", stale_s=900))
    assert make_coinbase().ticker("BTC-USD").ts == int(T0) - 900


def test_a_market_buy_fills_and_its_fills_add_up(fake: FakeExchange, make_coinbase: Make) -> None:
    client = make_coinbase()
    ack = client.create_order(market_buy())
    assert ack.status is VenueOrderStatus.PENDING and ack.client_order_id == "cid-1"
    order = client.get_order(ack.order_id)
    assert order.status is VenueOrderStatus.FILLED and order.quote_size == 1000.0
    fills = client.fills(ack.order_id)
    assert sum(f.size * f.price for f in fills) == pytest.approx(1000.0)
    assert order.filled_size == pytest.approx(sum(f.size for f in fills))


def test_a_limit_order_rests_fills_when_the_price_crosses_and_can_be_cancelled(
    fake: FakeExchange, make_coinbase: Make
) -> None:
    client = make_coinbase()
    req = OrderRequest("lim-1", "BTC-USD", Side.BUY, "limit", base_size="0.01", limit_price=59_000)
    body = client.order_body(req)
    assert body["order_configuration"] == {
        "limit_limit_gtc": {"base_size": "0.01", "limit_price": "59000", "post_only": False}
    }
    ack = client.create_order(req)
    assert client.get_order(ack.order_id).status is VenueOrderStatus.OPEN
    fake.engine.set_price("BTC-USD", 58_000)
    filled = client.get_order(ack.order_id)
    assert filled.status is VenueOrderStatus.FILLED and filled.average_price == 59_000
    other = client.create_order(OrderRequest("lim-2", "BTC-USD", Side.BUY, "limit", base_size=0.01, limit_price=50_000))
    (result,) = client.cancel([other.order_id])
    assert result.ok and client.get_order(other.order_id).status is VenueOrderStatus.CANCELLED
    (again,) = client.cancel([other.order_id])
    assert not again.ok


def test_the_same_client_order_id_returns_the_order_already_placed(fake: FakeExchange, make_coinbase: Make) -> None:
    client = make_coinbase()
    first = client.create_order(market_buy("dup"))
    second = client.create_order(market_buy("dup"))
    assert second.order_id == first.order_id and len(fake.engine.placed) == 1


def test_insufficient_funds_is_its_own_error(fake: FakeExchange, make_coinbase: Make) -> None:
    with pytest.raises(InsufficientFundsError, match="INSUFFICIENT_FUND"):
        make_coinbase().create_order(market_buy(quote=10_000_000))
    assert fake.engine.placed == []


def test_preview_and_key_permissions(fake: FakeExchange, make_coinbase: Make, coinbase_key: CoinbaseKey) -> None:
    client = make_coinbase()
    assert client.preview_order(market_buy()).ok
    assert client.preview_order(market_buy(quote=10_000_000)).errors == ("PREVIEW_INSUFFICIENT_FUND",)
    perms = client.key_permissions()
    assert perms.can_trade and not perms.can_withdraw
    fake.add_coinbase_key(CB_KEY_NAME, coinbase_key.public_key(), can_transfer=True)
    assert client.key_permissions().can_withdraw


def test_a_key_the_venue_does_not_know_is_an_authentication_error_without_secrets(
    fake: FakeExchange, make_coinbase: Make, ec_private_pem: str, clock: FakeClock
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    impostor = CoinbaseKey(CB_KEY_NAME, other_pem, clock=clock.time)  # right name, wrong private key
    with pytest.raises(VenueAuthError) as caught:
        make_coinbase(key=impostor).get_order("x")
    text = str(caught.value)
    assert "HTTP 401" in text and "BEGIN" not in text and other_pem not in text and ec_private_pem not in text
    assert len(fake.requests) == 1  # not retried: the key will not get better


@pytest.mark.parametrize(
    "fault",
    [
        Fault("rate_limit", path="/orders", method="POST", retry_after=3),
        Fault("server_error", path="/orders", method="POST"),  # refused before it was carried out
        Fault("server_error", path="/orders", method="POST", process=True),  # carried out, then 500
        Fault("delay", path="/orders", method="POST", delay_s=0.6),  # accepted, answered after the timeout
        Fault("drop", path="/orders", method="POST"),  # accepted, connection dropped
    ],
    ids=["429", "503", "500-after-accept", "timeout-after-accept", "drop-after-accept"],
)
def test_one_order_through_every_fault(fake: FakeExchange, make_coinbase: Make, clock: FakeClock, fault: Fault) -> None:
    fake.faults.add(replace(fault))
    client = make_coinbase()
    ack = client.create_order(market_buy("through-fault"))
    assert len(fake.engine.placed) == 1, "exactly one order, whatever happened on the way"
    assert ack.order_id == fake.engine.placed[0].order_id
    assert fake.faults.fired and fake.faults.fired[0][0] == fault.kind
    posts = [r for r in fake.requests if r.method == "POST"]
    lookups = [r for r in fake.requests if r.path.endswith("/orders/historical/batch")]
    accepted = fault.kind in ("delay", "drop") or fault.process
    if accepted:  # looked up by its client order id, found: not sent again
        assert len(posts) == 1 and len(lookups) == 1
    else:  # the faulty one, and the one that got the answer
        assert len(posts) == 2 and len(lookups) == (1 if fault.kind == "server_error" else 0)
    if fault.kind == "rate_limit":
        assert posts[1].at - posts[0].at >= 3.0  # Retry-After honoured
    assert client.get_order(ack.order_id).status is VenueOrderStatus.FILLED


def test_a_partial_fill_of_a_market_order_cancels_the_rest(fake: FakeExchange, make_coinbase: Make) -> None:
    fake.faults.add(Fault("partial", path="/orders", fraction=0.4))
    client = make_coinbase()
    ack = client.create_order(market_buy("partial", quote=1000.0))
    order = client.get_order(ack.order_id)
    assert order.status is VenueOrderStatus.CANCELLED
    assert sum(f.size * f.price for f in client.fills(ack.order_id)) == pytest.approx(400.0)


def test_the_breaker_opens_after_repeated_failures_and_stops_new_orders(
    fake: FakeExchange, make_coinbase: Make, clock: FakeClock
) -> None:
    fake.faults.add(Fault("server_error", path="/best_bid_ask", times=100))
    client = make_coinbase()
    for _ in range(2):
        with pytest.raises(TemporaryVenueError):
            client.best_bid_ask(["BTC-USD"])  # 4 attempts each: 8 failures in a row
    seen = len(fake.requests)
    with pytest.raises(CircuitOpenError, match="circuit open"):
        client.create_order(market_buy("blocked"))
    assert len(fake.requests) == seen and fake.engine.placed == []  # refused before any request
    fake.faults.clear()
    clock.now += 31
    client.create_order(market_buy("probe"))  # half-open: one probe, which succeeds
    assert client.breaker.state().mode.value == "closed" and len(fake.engine.placed) == 1


def test_an_order_is_found_by_its_client_order_id_across_pages(fake: FakeExchange, make_coinbase: Make) -> None:
    client = make_coinbase()
    for i in range(5):
        client.create_order(market_buy(f"cid-{i}", quote=100.0))
    found = client.find_order("BTC-USD", "cid-0", since_ts=int(T0) - 60)  # the oldest: the third page
    assert found is not None and found.client_order_id == "cid-0" and found.status is VenueOrderStatus.FILLED
    assert client.find_order("BTC-USD", "never-placed", since_ts=int(T0) - 60) is None
    assert client.find_order("ETH-USD", "cid-1", since_ts=int(T0) - 60) is None
    pages = [r for r in fake.requests if r.path.endswith("/orders/historical/batch")]
    assert len(pages) == 3 + 3 + 1
