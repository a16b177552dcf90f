"""The live gate and the live broker's own guarantees, against the fake exchange: the composition root
builds the live broker only for a key that may trade and not withdraw; a buy over the per-order cap and
an order Coinbase's preview faults are refused before anything is placed; a process that died after the
venue accepted an order reconciles by client order id on restart, and one that died before sending
places nothing."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from live_helpers import SYMBOL, FakeClockPort, start_live, write_config
from venue_helpers import BN_API_KEY, BN_SECRET, CB_KEY_NAME, T0, FakeClock

from coinswarm.adapters.live_broker import GRACE_S, LiveBroker, book_key
from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.venue_market import VenueMarketData
from coinswarm.cli.main import main as cli
from coinswarm.config import ConfigError, load_settings
from coinswarm.domain.models import Candle, Order, OrderIntent, OrderStatus, Side
from coinswarm.domain.risk import RiskLimits
from coinswarm.stages.placement import IN_PROGRESS_TTL_S, PlacementStage
from coinswarm.venues.fake import FakeExchange, Fault
from coinswarm.venues.fake.engine import FakeOrder
from coinswarm.venues.models import OrderRequest
from coinswarm.wiring.bootstrap import LiveTradingUnavailableError, build_broker
from coinswarm.wiring.cloud import cloud_market
from coinswarm.wiring.live import LiveKeyRefusedError, build_live_broker


@pytest.fixture
def real_time_fake() -> Iterator[tuple[FakeExchange, str]]:
    """A fake exchange on the real clock (the composition root signs with the real clock), and a key."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    with FakeExchange(clock=time.time) as fake:
        fake.add_coinbase_key(CB_KEY_NAME, key.public_key())
        fake.add_binance_key(BN_API_KEY, BN_SECRET)
        yield fake, pem


@pytest.mark.parametrize("venue", ["coinbase", "binance"])
def test_the_composition_root_builds_the_live_broker_for_a_trade_only_key(
    tmp_path: Path, real_time_fake: tuple[FakeExchange, str], venue: str
) -> None:
    fake, pem = real_time_fake
    settings = load_settings(write_config(tmp_path, venue, fake.url, pem), env={})
    broker = build_broker(settings, MemoryStore())
    assert isinstance(broker, LiveBroker) and broker.venue.name == venue
    permission_paths = [r.path for r in fake.requests]
    assert permission_paths[-1] in ("/api/v3/brokerage/key_permissions", "/sapi/v1/account/apiRestrictions")
    assert isinstance(cloud_market(settings), VenueMarketData)  # market.source = "venue"


@pytest.mark.parametrize(
    ("venue", "power"), [("coinbase", "transfer"), ("binance", "withdrawals"), ("binance", "universal_transfer")]
)
def test_a_key_that_can_withdraw_or_transfer_is_refused_at_start_up(
    tmp_path: Path, real_time_fake: tuple[FakeExchange, str], venue: str, power: str
) -> None:
    fake, pem = real_time_fake
    public = serialization.load_pem_private_key(pem.encode(), None).public_key()
    fake.add_coinbase_key(CB_KEY_NAME, public, can_transfer=True)  # type: ignore[arg-type]
    fake.add_binance_key(BN_API_KEY, BN_SECRET, **{power: True} if venue == "binance" else {})
    settings = load_settings(write_config(tmp_path, venue, fake.url, pem), env={})
    with pytest.raises(LiveKeyRefusedError) as caught:
        build_broker(settings, MemoryStore())
    text = str(caught.value)
    assert "can withdraw or transfer funds: refused" in text and "only" in text
    assert BN_SECRET not in text and "PRIVATE KEY" not in text
    assert fake.engine.placed == []


def test_a_key_the_venue_rejects_stops_live_mode_with_what_to_do(
    tmp_path: Path, real_time_fake: tuple[FakeExchange, str]
) -> None:
    fake, _ = real_time_fake
    other = ec.generate_private_key(ec.SECP256R1())
    wrong = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    settings = load_settings(write_config(tmp_path, "coinbase", fake.url, wrong), env={})
    with pytest.raises(
        LiveTradingUnavailableError, match=r"cannot check the coinbase key's permissions.*mode = 'paper'"
    ):
        build_broker(settings, MemoryStore())


def test_a_secret_that_is_no_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, "coinbase", "http://127.0.0.1:9", "not a pem"), env={})
    with pytest.raises(LiveTradingUnavailableError, match="not a PEM private key"):
        build_broker(settings, MemoryStore())


def test_a_buy_size_over_the_cap_is_refused_at_start_up(tmp_path: Path) -> None:
    path = write_config(tmp_path, "binance", "http://127.0.0.1:9", "", max_order_notional=500.0)
    with pytest.raises(
        LiveTradingUnavailableError, match=r"sizing.buy_notional 1,000.00 is over live.max_order_notional"
    ):
        build_broker(load_settings(path, env={}), MemoryStore())


def test_the_venue_address_must_be_https_or_this_machine(tmp_path: Path) -> None:
    path = write_config(tmp_path, "binance", "http://exchange.example.com", "")
    with pytest.raises(ConfigError, match=r"live.venue_url: give an https:// address"):
        load_settings(path, env={})


@pytest.mark.parametrize("written", ['"yes"', "1", '"true"', '"on"'])
def test_only_a_real_boolean_true_confirms_live_trading(tmp_path: Path, written: str) -> None:
    """Issue 10 item 6: `confirm = "yes"` or `1` is no confirmation (pydantic would coerce them to true)."""
    path = write_config(tmp_path, "binance", "http://127.0.0.1:9", "")
    path.write_text(path.read_text().replace("confirm = true", f"confirm = {written}"))
    with pytest.raises(ConfigError, match=r"live.confirm: .*(boolean|bool)"):
        load_settings(path, env={})


def test_the_environment_confirms_live_trading_with_true(tmp_path: Path) -> None:
    path = write_config(tmp_path, "binance", "http://127.0.0.1:9", "")
    path.write_text(path.read_text().replace("confirm = true", "confirm = false"))
    assert load_settings(path, env={"COINSWARM_LIVE__CONFIRM": "true"}).live.confirm is True
    for text in ("yes", "1"):
        with pytest.raises(ConfigError, match=r"live.confirm"):
            load_settings(path, env={"COINSWARM_LIVE__CONFIRM": text})


# -- the broker on its own ----------------------------------------------------------------------------


def broker_on(fake: FakeExchange, clock: FakeClock, pem: str, tmp_path: Path, venue: str, **live: object) -> LiveBroker:
    run = start_live(tmp_path, venue, fake, clock, pem, **live)
    return run.broker


def entries_placed(fake: FakeExchange) -> list[FakeOrder]:
    """The orders at the fake, without the protective stops the broker rests after each entry."""
    return [o for o in fake.engine.placed if o.kind != "stop_limit"]


def order(cid: str, symbol: str = "BTC-USD", **size: float) -> Order:
    return Order(client_order_id=cid, symbol=symbol, side=Side.BUY, placed_ts=int(T0), **size)


def test_a_buy_over_the_cap_never_reaches_the_venue(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    broker = broker_on(fake, clock, ec_private_pem, tmp_path, "coinbase")
    held = broker.submit(order("big", notional=1_500.0))
    assert held.status is OrderStatus.REJECTED and "over the per-order cap" in held.note
    assert [r for r in fake.requests if r.method == "POST"] == []
    settled = broker.settle("BTC-USD", 60_000.0, int(T0) + 60)
    assert [o.client_order_id for o in settled.refused] == ["big"] and not settled.pending
    assert broker.settle("BTC-USD", 60_000.0, int(T0) + 120).refused == []  # reported once
    assert broker.submit(order("big", notional=1_500.0)).status is OrderStatus.REJECTED  # idempotent


def test_coinbase_previews_every_order_and_a_preview_error_refuses_it(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    broker = broker_on(fake, clock, ec_private_pem, tmp_path, "coinbase")
    fake.engine.balances["USD"] = 50.0
    held = broker.submit(order("poor", notional=500.0))
    assert "preview" in held.note and "PREVIEW_INSUFFICIENT_FUND" in held.note
    posts = [r.path for r in fake.requests if r.method == "POST"]
    assert posts == ["/api/v3/brokerage/orders/preview"] and fake.engine.placed == []
    fake.engine.balances["USD"] = 100_000.0
    broker.submit(order("fine", notional=500.0))
    posts = [r.path for r in fake.requests if r.method == "POST"]
    assert posts[1:] == ["/api/v3/brokerage/orders/preview", "/api/v3/brokerage/orders"]


@pytest.mark.parametrize("venue", ["coinbase", "binance"])
def test_a_restart_after_the_venue_accepted_reconciles_by_client_order_id(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str, venue: str
) -> None:
    """The worker wrote its order to the book, the venue accepted it, and the worker died before it
    learnt so: the retry of the intent (after its claim's TTL) finds the order in the book, and the next
    settle finds it at the venue by its client order id and books its fills. One order at the venue."""
    fake.engine.set_price("BTC-USDT", 60_000.0)
    run = start_live(tmp_path, venue, fake, clock, ec_private_pem)
    symbol = SYMBOL[venue]
    broker, store = run.broker, run.app.state
    intent = buy_500_at_t0(symbol)
    # the dead worker: its claim, its write-ahead record, and the venue's acceptance
    claims = run.app.coordination
    assert (
        claims.begin(f"order:{intent.intent_id}", owner="dead", now=int(T0), in_progress_ttl_s=IN_PROGRESS_TTL_S)
        is None
    )
    record_then_die(broker, intent, accepted=True)
    # a new process: a fresh broker on the same state store
    fresh = build_live_broker(run.settings, store, venue=broker.venue, clock=clock.time)
    stage = PlacementStage(fresh, store, run.app.history, claims, FakeClockPort(clock), RiskLimits(), account="x")
    clock.now = T0 + IN_PROGRESS_TTL_S + 1
    placed = stage.place(intent, now=int(T0))
    assert placed.duplicate and "reconciled" in placed.note
    settled = fresh.settle(symbol, 60_000.0, int(clock.now))
    assert sum(f.quantity * f.price for f in settled.fills) == pytest.approx(500.0, rel=1e-6)
    assert len(entries_placed(fake)) == 1 and not fresh.has_pending(symbol)
    assert fresh.get_order(intent.intent_id).status is OrderStatus.FILLED  # type: ignore[union-attr]


@pytest.mark.parametrize("venue", ["coinbase", "binance"])
def test_a_restart_after_dying_before_sending_places_nothing(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str, venue: str
) -> None:
    fake.engine.set_price("BTC-USDT", 60_000.0)
    run = start_live(tmp_path, venue, fake, clock, ec_private_pem)
    symbol = SYMBOL[venue]
    intent = buy_500_at_t0(symbol)
    record_then_die(run.broker, intent, accepted=False)
    fresh = build_live_broker(run.settings, run.app.state, venue=run.broker.venue, clock=clock.time)
    clock.now = T0 + 60  # the dead worker might still be on its way: no conclusion yet
    assert fresh.settle(symbol, 60_000.0, int(T0) + 60).refused == [] and fresh.has_pending(symbol)
    clock.now = T0 + GRACE_S
    settled = fresh.settle(symbol, 60_000.0, int(T0) + GRACE_S)
    assert [o.client_order_id for o in settled.refused] == [intent.intent_id]
    assert "never placed" in settled.refused[0].note
    assert fake.engine.placed == [] and [r for r in fake.requests if r.method == "POST"] == []


def buy_500_at_t0(symbol: str) -> OrderIntent:
    """The committee's buy of 500 in quote currency at 60,000, made at T0."""
    return OrderIntent(
        intent_id=f"cs-{symbol}-{int(T0)}-b",
        symbol=symbol,
        side=Side.BUY,
        notional=500,
        reference_price=60_000,
        ts=int(T0),
    )


def record_then_die(broker: LiveBroker, intent: OrderIntent, *, accepted: bool) -> None:
    """What a worker leaves behind when it dies right after the write-ahead (and, if `accepted`, after
    the venue accepted the order): the book's `sending` record, and maybe the venue's order."""
    rec = {
        **order(intent.intent_id, intent.symbol, notional=500.0).model_dump(mode="json"),
        "stage": "sending",
        "venue": broker.venue.name,
        "venue_symbol": broker.venue.quirks.venue_symbol(intent.symbol),
        "venue_order_id": None,
        "sent_ts": int(T0),
        "trades": [],
        "filled": 0.0,
    }
    assert broker._write_ahead(rec)
    if accepted:
        req = OrderRequest(intent.intent_id, rec["venue_symbol"], Side.BUY, "market", quote_size=500.0)
        broker.venue.place(req)


def test_an_order_whose_outcome_stays_unknown_is_looked_up_until_the_venue_answers(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    """Binance accepted, the connection dropped, and every lookup failed too: the order is kept as
    unknown and never sent again; once the venue answers, its fills are booked."""
    fake.engine.set_price("BTC-USDT", 60_000.0)
    run = start_live(tmp_path, "binance", fake, clock, ec_private_pem, breaker_failures=50)
    fake.faults.add(Fault("drop", path="/api/v3/order", method="POST"))
    fake.faults.add(Fault("server_error", path="/api/v3/order", method="GET", times=8))  # lookups fail (x4 x2)
    held = run.broker.submit(order("lost", "BTC-USDT", notional=500.0))
    assert held.status is OrderStatus.PENDING and "outcome unknown" in held.note
    assert run.broker.settle("BTC-USDT", 60_000.0, int(T0) + 60).fills == []  # lookups still failing
    settled = run.broker.settle("BTC-USDT", 60_000.0, int(T0) + 120)
    assert len(settled.fills) == 1 and not settled.pending
    posts = [r for r in fake.requests if r.method == "POST"]
    assert len(entries_placed(fake)) == 1 and len(posts) == 1 + len(fake.engine.placed) - len(entries_placed(fake))


def test_status_shows_the_breaker_and_the_live_book(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run = start_live(tmp_path, "coinbase", fake, clock, ec_private_pem, breaker_failures=2)
    fake.faults.add(Fault("server_error", path="/orders/preview", times=2))
    run.broker.submit(order("blocked", notional=100.0))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli(["status", "--json", "--config", str(run.config)]) == 0
    shown = json.loads(out.getvalue())
    (breaker,) = shown["circuit_breakers"]
    assert breaker["venue"] == "coinbase" and breaker["mode"] == "open" and breaker["consecutive_failures"] == 2
    assert [o["client_order_id"] for o in shown["pending_orders"]] == ["blocked"]
    assert run.app.state.get(book_key(run.settings.account)) is not None


def test_an_old_decision_never_trades_live(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    """A replay, a synthetic series or a late redelivery decides on candles long closed: refused."""
    broker = broker_on(fake, clock, ec_private_pem, tmp_path, "coinbase")
    replayed = order("from-a-replay", notional=100.0).model_copy(update={"placed_ts": int(T0) - 3600})
    held = broker.submit(replayed)
    assert held.status is OrderStatus.REJECTED and "3,600 s ago: live orders go out only on current prices" in held.note
    assert fake.requests == [r for r in fake.requests if r.method == "GET"] and fake.engine.placed == []


@pytest.mark.parametrize("venue", ["coinbase", "binance"])
def test_a_decision_on_a_price_far_from_the_venues_is_refused(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str, venue: str
) -> None:
    fake.engine.set_price("BTC-USDT", 60_000.0)
    broker = broker_on(fake, clock, ec_private_pem, tmp_path, venue)
    symbol = SYMBOL[venue]
    broker.settle(symbol, 50_000.0, int(T0))  # what the decision saw: 17 % below the venue's book
    held = broker.submit(order("far", symbol, notional=100.0))
    assert "away from" in held.note and "stale prices or another market's" in held.note
    assert fake.engine.placed == []
    broker.settle(symbol, 60_100.0, int(T0))  # within 5 %: placed
    broker.submit(order("near", symbol, notional=100.0))
    assert [o.client_order_id for o in entries_placed(fake)] == ["near"]


def test_a_decision_is_judged_by_the_close_it_was_made_on_not_by_an_old_settle_price(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    """A cycle's settle price is its first new candle's open: after a long warm-up or downtime that is
    hours old. The gap is measured from the close of the candle the decision was made on, both ways."""
    broker = broker_on(fake, clock, ec_private_pem, tmp_path, "coinbase")
    decided = int(T0) - int(T0) % 60

    def candle_closing_at(ts: int, close: float) -> Candle:
        return Candle(symbol="BTC-USD", ts=ts - 60, open=close, high=close, low=close, close=close, volume=1.0)

    broker.settle("BTC-USD", 48_000.0, decided - 18_000)  # the open of a warm-up 5 hours ago: 20 % below
    broker.store.put_candles([candle_closing_at(decided, 60_050.0)])  # the decision's own candle: at the market
    near = order("near", notional=100.0).model_copy(update={"placed_ts": decided})
    assert broker.submit(near).status is not OrderStatus.REJECTED
    assert [o.client_order_id for o in entries_placed(fake)] == ["near"]

    broker.settle("BTC-USD", 60_000.0, decided)  # a current settle price, but the next decision saw 50,000
    broker.store.put_candles([candle_closing_at(decided + 60, 50_000.0)])
    held = broker.submit(order("far", notional=100.0).model_copy(update={"placed_ts": decided + 60}))
    assert held.status is OrderStatus.REJECTED and "the decision saw 50,000.00" in held.note
    assert [o.client_order_id for o in entries_placed(fake)] == ["near"]
