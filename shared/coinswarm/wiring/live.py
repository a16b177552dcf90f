"""Live trading, built only when deliberately configured (mode "live", live.confirm, keys) and only
after the gate passes: the buy size fits `live.max_order_notional`, and the key may view and trade but
not withdraw or transfer (else `LiveKeyRefusedError`, a `LiveTradingUnavailableError`). One venue client
per process and venue, shared by the live broker and the venue market data. The venue modules (httpx,
cryptography: the `live` extra) are imported here only. The gate in full: docs/going-live.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from coinswarm.config.settings import Settings
from coinswarm.ports.history import HistoryStore
from coinswarm.ports.state import StateStore
from coinswarm.wiring.bootstrap import LiveTradingUnavailableError

if TYPE_CHECKING:
    from coinswarm.adapters.live_broker import LiveBroker
    from coinswarm.adapters.venue_market import VenueMarketData
    from coinswarm.adapters.venue_orders import VenueOrders

DEFAULT_URLS = {"coinbase": "https://api.coinbase.com", "binance": "https://api.binance.com"}
KEY_HELP = {
    "coinbase": "create a CDP API key with the View and Trade permissions only (not Transfer) at "
    "portal.cdp.coinbase.com, restricted to your IP addresses",
    "binance": "create an API key with 'Enable Reading' and 'Enable Spot & Margin Trading' only (no "
    "withdrawals, no internal or universal transfer), restricted to trusted IPs",
}

_lock = threading.Lock()
_venues: dict[tuple[str, str, str], VenueOrders] = {}


class LiveKeyRefusedError(LiveTradingUnavailableError):
    """The key may do more than trade (or cannot trade): live trading does not start with it."""


def venue_orders(
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    read_timeout_s: float = 10.0,
) -> VenueOrders:
    """A fresh client for the first configured venue, wrapped in its adapter. Keys are used when given
    (a paper run with `market.source = "venue"` needs none)."""
    try:
        from coinswarm.adapters.venue_orders import BinanceOrders, CoinbaseOrders
        from coinswarm.venues.breaker import CircuitBreaker
        from coinswarm.venues.ratelimit import (
            BINANCE_ORDERS,
            BINANCE_WEIGHT,
            COINBASE_PRIVATE,
            COINBASE_PUBLIC,
            Limit,
            TokenBucket,
        )
    except ImportError as exc:  # the `live` extra (cryptography) is not installed
        raise LiveTradingUnavailableError(
            f"the venue clients cannot load ({exc}); install Coinswarm with its live extra: "
            "pip install 'coinswarm[live]'"
        ) from None
    venue = settings.primary_venue
    url = settings.live.venue_url or DEFAULT_URLS[venue.name]
    breaker = CircuitBreaker(
        venue.name,
        threshold=settings.live.breaker_failures,
        cooldown_s=settings.live.breaker_cooldown_s,
        clock=monotonic,
    )
    api_key = venue.api_key.get_secret_value() if venue.api_key else ""
    secret = venue.api_secret.get_secret_value() if venue.api_secret else ""

    def bucket(limit: Limit) -> TokenBucket:
        return TokenBucket.within(limit, clock=monotonic, sleep=sleep)

    try:
        if venue.name == "coinbase":
            from coinswarm.venues.auth import CoinbaseKey
            from coinswarm.venues.coinbase import CoinbaseClient

            cb_key = CoinbaseKey(api_key, secret, clock=clock) if api_key and secret else None
            return CoinbaseOrders(
                CoinbaseClient(
                    cb_key,
                    base_url=url,
                    read_timeout_s=read_timeout_s,
                    private_bucket=bucket(COINBASE_PRIVATE),
                    public_bucket=bucket(COINBASE_PUBLIC),
                    breaker=breaker,
                    sleep=sleep,
                    clock=clock,
                )
            )
        from coinswarm.venues.auth import BinanceKey
        from coinswarm.venues.binance import BinanceClient

        bn_key = BinanceKey(api_key, secret) if api_key and secret else None
        return BinanceOrders(
            BinanceClient(
                bn_key,
                base_url=url,
                read_timeout_s=read_timeout_s,
                weight_bucket=bucket(BINANCE_WEIGHT),
                order_bucket=bucket(BINANCE_ORDERS),
                breaker=breaker,
                sleep=sleep,
                clock=clock,
            )
        )
    except ValueError as exc:  # a malformed key: the message says which part and what to do
        raise LiveTradingUnavailableError(f"{venue.name}: {exc}") from None


def shared_venue(settings: Settings) -> VenueOrders:
    """The process's client for the first venue (one per venue, address and key), built on first use."""
    venue = settings.primary_venue
    ident = (venue.name, settings.live.venue_url or "", venue.api_key.get_secret_value() if venue.api_key else "")
    with _lock:
        if ident not in _venues:
            _venues[ident] = venue_orders(settings)
        return _venues[ident]


def check_key(venue: VenueOrders) -> None:
    """Refuse a key the venue says may withdraw or transfer, or may not trade; say what to do instead."""
    from coinswarm.errors import VenueError

    try:
        perms = venue.permissions()
    except VenueError as exc:
        raise LiveTradingUnavailableError(
            f"cannot check the {venue.name} key's permissions ({exc}); live trading does not start without "
            "that check: fix the key or the connection, or set mode = 'paper'"
        ) from None
    if perms.can_withdraw:
        raise LiveKeyRefusedError(
            f"the {venue.name} API key can withdraw or transfer funds: refused for trading. A trading bot's "
            f"key must not be able to move money out; {KEY_HELP[venue.name]}, then configure that key"
        )
    if not (perms.can_trade and perms.can_view):
        missing = " and ".join(x for x, ok in (("view", perms.can_view), ("trade", perms.can_trade)) if not ok)
        raise LiveKeyRefusedError(f"the {venue.name} API key may not {missing}; {KEY_HELP[venue.name]}")


def check_sizing(settings: Settings) -> None:
    cap = settings.live.max_order_notional
    buy = settings.sizing.buy_notional
    if buy is not None and buy > cap:
        raise LiveTradingUnavailableError(
            f"sizing.buy_notional {buy:,.2f} is over live.max_order_notional {cap:,.2f}: every buy would be "
            "refused; lower sizing.buy_notional or raise the cap deliberately"
        )


def build_live_broker(
    settings: Settings,
    state: StateStore,
    *,
    venue: VenueOrders | None = None,
    clock: Callable[[], float] = time.time,
    history: Callable[[], HistoryStore] | None = None,
) -> LiveBroker:
    """The live broker, after the gate: the sizing fits the cap and the key may trade but not withdraw.
    `history`: where the account's ledger is (opened on first use), which the broker's book must agree with."""
    from coinswarm.adapters.live_broker import LiveBroker
    from coinswarm.stages.ledger import Ledger

    exits = settings.exits
    ledgers: list[Ledger] = []

    def ledger() -> Ledger:
        if not ledgers and history is not None:
            ledgers.append(Ledger(history(), settings.ledger_stream))
        return ledgers[0]

    check_sizing(settings)
    venue = venue or shared_venue(settings)
    check_key(venue)
    return LiveBroker(
        state,
        venue,
        account=settings.account,
        starting_cash=settings.paper.starting_cash,
        max_order_notional=settings.live.max_order_notional,
        min_order_notional=settings.risk.min_order_notional,
        fee_bps=settings.primary_venue.fee_bps,
        max_decision_age_s=max(120, 2 * settings.timeframe_s),
        max_price_gap=settings.live.max_price_gap_pct / 100,
        timeframe_s=settings.timeframe_s,
        clock=clock,
        ledger=ledger if history is not None else None,
        stop_loss_pct=settings.exits.stop_loss_pct if settings.live.protective_stops else None,
        stop_limit_offset_pct=settings.live.stop_limit_offset_pct,
        trailing=(exits.trailing_stop_pct, exits.trailing_offset_pct, exits.trailing_only_offset_reached),
    )


def venue_market(
    settings: Settings, *, venue: VenueOrders | None = None, clock: Callable[[], float] = time.time
) -> VenueMarketData:
    """Candles and book tops from the first venue, for `market.source = "venue"` (live or paper)."""
    from coinswarm.adapters.venue_market import VenueMarketData

    return VenueMarketData(
        venue or shared_venue(settings),
        recent_limit=settings.market.warmup_candles,
        stale_after_s=settings.live.stale_quote_s,
        clock=clock,
    )
