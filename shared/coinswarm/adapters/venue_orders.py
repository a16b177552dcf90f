"""One small adapter per live venue: what the live broker and the venue market data need from a venue
client, with each venue's quirks kept as data (`VenueQuirks`), not as if-chains in the broker.

The venue clients (`coinswarm.venues.coinbase`, `coinswarm.venues.binance`) speak each venue's API;
these adapters give both the same seven verbs: place, cancel, find by client order id, order status,
fills, preview (where the venue has one) and the key's permissions, plus candles and the book top.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coinswarm.domain.models import Candle
from coinswarm.errors import InvalidOrderError, OrderNotFoundError
from coinswarm.venues.breaker import CircuitBreaker
from coinswarm.venues.models import BookTop, KeyPermissions, OrderPreview, OrderRequest, VenueFill, VenueOrder

if TYPE_CHECKING:
    from coinswarm.venues.binance import BinanceClient
    from coinswarm.venues.coinbase import CoinbaseClient


def _dashed(symbol: str) -> str:
    return symbol


def _flat(symbol: str) -> str:
    return symbol.replace("-", "")


@dataclass(frozen=True, slots=True)
class VenueQuirks:
    """What differs between venues, as data.

    `venue_symbol` turns `BTC-USD` into the venue's name for it; a market buy is sized in the quote
    currency (`quote_decimals` places) and a sell in base units (`base_decimals`), both rounded down;
    `has_preview` says whether the venue previews an order before it is placed."""

    name: str
    venue_symbol: Callable[[str], str]
    quote_decimals: int
    base_decimals: int
    has_preview: bool


COINBASE = VenueQuirks("coinbase", _dashed, quote_decimals=2, base_decimals=8, has_preview=True)
BINANCE = VenueQuirks("binance", _flat, quote_decimals=2, base_decimals=6, has_preview=False)
QUIRKS: dict[str, VenueQuirks] = {q.name: q for q in (COINBASE, BINANCE)}
"""Each live venue's quirks by its name (settings' `venue`, the CLI's --venue)."""


class VenueOrders(ABC):
    quirks: VenueQuirks
    breaker: CircuitBreaker

    @property
    def name(self) -> str:
        return self.quirks.name

    @abstractmethod
    def place(self, req: OrderRequest) -> VenueOrder:
        """Place once (the client resolves an unknown outcome by client order id before sending again)."""

    @abstractmethod
    def cancel(self, venue_symbol: str, order_id: str) -> bool:
        """Cancel a resting order: True when the venue cancelled it, False when it had none to cancel (filled
        or cancelled already: ask `order` which). Raises VenueError when the venue cannot say."""

    @abstractmethod
    def find(self, venue_symbol: str, client_order_id: str, *, since_ts: int) -> VenueOrder | None:
        """The order placed under `client_order_id`, or None when the venue has none."""

    @abstractmethod
    def order(self, venue_symbol: str, order_id: str) -> VenueOrder:
        """The order's status now."""

    @abstractmethod
    def fills(self, venue_symbol: str, order_id: str) -> list[VenueFill]:
        """Every fill of the order so far."""

    def preview(self, req: OrderRequest) -> OrderPreview | None:
        """The venue's preview of `req`, or None when it has no preview."""
        return None

    @abstractmethod
    def permissions(self) -> KeyPermissions:
        """What the configured key may do."""

    @abstractmethod
    def candles(self, venue_symbol: str, timeframe_s: int, start_ts: int, end_ts: int, *, label: str) -> list[Candle]:
        """Closed candles in [start_ts, end_ts), labelled with the domain symbol `label`."""

    @abstractmethod
    def top(self, venue_symbol: str) -> BookTop:
        """The best bid and ask now."""

    @abstractmethod
    def close(self) -> None: ...


class CoinbaseOrders(VenueOrders):
    quirks = COINBASE

    def __init__(self, client: CoinbaseClient) -> None:
        self.client = client
        self.breaker = client.breaker

    def place(self, req: OrderRequest) -> VenueOrder:
        return self.client.create_order(req)

    def cancel(self, venue_symbol: str, order_id: str) -> bool:
        results = self.client.cancel([order_id])
        return any(r.ok for r in results if r.order_id == order_id)

    def find(self, venue_symbol: str, client_order_id: str, *, since_ts: int) -> VenueOrder | None:
        return self.client.find_order(venue_symbol, client_order_id, since_ts=since_ts)

    def order(self, venue_symbol: str, order_id: str) -> VenueOrder:
        return self.client.get_order(order_id)

    def fills(self, venue_symbol: str, order_id: str) -> list[VenueFill]:
        return self.client.fills(order_id)

    def preview(self, req: OrderRequest) -> OrderPreview | None:
        return self.client.preview_order(req)

    def permissions(self) -> KeyPermissions:
        return self.client.key_permissions()

    def candles(self, venue_symbol: str, timeframe_s: int, start_ts: int, end_ts: int, *, label: str) -> list[Candle]:
        pages = self.client.candle_pages(venue_symbol, timeframe_s, start_ts, end_ts, symbol=label)
        return [c for page in pages for c in page]

    def top(self, venue_symbol: str) -> BookTop:
        if self.client.key is not None:
            (book,) = self.client.best_bid_ask([venue_symbol])
            return book
        ticker = self.client.ticker(venue_symbol)  # without a key: the public ticker's best bid and ask
        bid, ask = ticker.bid or ticker.price, ticker.ask or ticker.price
        return BookTop(self.name, venue_symbol, bid, 0.0, ask, 0.0, ticker.ts)

    def close(self) -> None:
        self.client.close()


class BinanceOrders(VenueOrders):
    quirks = BINANCE

    def __init__(self, client: BinanceClient) -> None:
        self.client = client
        self.breaker = client.breaker

    def place(self, req: OrderRequest) -> VenueOrder:
        return self.client.create_order(req)

    def cancel(self, venue_symbol: str, order_id: str) -> bool:
        try:
            self.client.cancel_order(venue_symbol, order_id=order_id)
        except (OrderNotFoundError, InvalidOrderError):  # -2011 "Unknown order sent.": filled or cancelled already
            return False
        return True

    def find(self, venue_symbol: str, client_order_id: str, *, since_ts: int) -> VenueOrder | None:
        return self.client.find_order(venue_symbol, client_order_id)

    def order(self, venue_symbol: str, order_id: str) -> VenueOrder:
        return self.client.get_order(venue_symbol, order_id=order_id)

    def fills(self, venue_symbol: str, order_id: str) -> list[VenueFill]:
        return self.client.my_trades(venue_symbol, order_id)

    def permissions(self) -> KeyPermissions:
        return self.client.api_restrictions()

    def candles(self, venue_symbol: str, timeframe_s: int, start_ts: int, end_ts: int, *, label: str) -> list[Candle]:
        pages = self.client.candle_pages(venue_symbol, timeframe_s, start_ts, end_ts, label=label)
        return [c for page in pages for c in page]

    def top(self, venue_symbol: str) -> BookTop:
        return self.client.book_ticker(venue_symbol)

    def close(self) -> None:
        self.client.close()
