"""The fake exchange's market and account: prices, candles, balances, and orders that fill.

One engine serves both venues' APIs. Symbols are kept without separators (`BTC-USD` and `BTCUSD` are
one market); the base and quote assets come from a list of known quotes. Market orders fill at once
at the ask (buy) or bid (sell); a limit order that crosses fills at once, otherwise rests until
`set_price` crosses it. A stop-limit order rests untriggered until the market reaches its stop (a sell
stop: the bid at or below `stop_price`; checked whenever the price is set and, through `poll`, before
every request the fake answers, so a trend triggers it too); it then works as a limit order at
`limit_price`. A `partial` fault fills only part: a market order's rest is cancelled (IOC), a limit
order's rest keeps working.
"""

from __future__ import annotations

import itertools
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from coinswarm.errors import CoinswarmError

QUOTES = ("USDT", "USDC", "USD", "EUR", "BTC", "ETH")


class OrderRefusedError(CoinswarmError):
    """An order the engine refuses: `reason` is `insufficient`, `invalid` or `duplicate`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def split_symbol(symbol: str) -> tuple[str, str]:
    flat = symbol.replace("-", "").upper()
    for q in QUOTES:
        if flat.endswith(q) and len(flat) > len(q):
            return flat[: -len(q)], q
    raise OrderRefusedError("invalid", f"unknown symbol {symbol!r}")


@dataclass
class Fill:
    trade_id: str
    price: float
    size: float
    fee: float
    ts: float
    maker: bool


@dataclass
class FakeOrder:
    venue: str
    order_id: str
    client_order_id: str
    symbol: str  # as the client sent it
    side: str  # "BUY" | "SELL"
    kind: str  # "market" | "limit" | "stop_limit"
    base_size: float | None
    quote_size: float | None
    limit_price: float | None
    created: float
    status: str = "OPEN"  # OPEN, FILLED, CANCELLED (Coinbase words; each API maps them)
    partial_fraction: float = 1.0
    fills: list[Fill] = field(default_factory=list)
    stop_price: float | None = None
    triggered: bool = False

    @property
    def filled(self) -> float:
        return sum(f.size for f in self.fills)

    @property
    def filled_value(self) -> float:
        return sum(f.size * f.price for f in self.fills)

    @property
    def fees(self) -> float:
        return sum(f.fee for f in self.fills)

    @property
    def average(self) -> float:
        return self.filled_value / self.filled if self.filled else 0.0


class Engine:
    def __init__(self, clock: Callable[[], float], *, fee_rate: float = 0.001, spread_bps: float = 2.0) -> None:
        self.clock = clock
        self.fee_rate = fee_rate
        self.spread = spread_bps / 1e4
        self.lock = threading.RLock()
        self.prices: dict[str, float] = {}
        self.balances: dict[str, float] = {"USD": 100_000.0, "USDT": 100_000.0, "USDC": 100_000.0, "BTC": 10.0}
        self.orders: dict[str, FakeOrder] = {}  # by order id
        self.placed: list[FakeOrder] = []  # every order accepted, in order
        self.missing_candles: set[int] = set()  # bucket starts the venue has no candle for
        self.trends: dict[str, tuple[float, float]] = {}  # market -> (change per hour, since when)
        self._ids = itertools.count(1)

    # -- market ---------------------------------------------------------------------------------
    def price(self, symbol: str) -> float:
        return self._level(symbol, self.clock())

    def _level(self, symbol: str, t: float) -> float:
        """The market's price level at `t`: the price set, moved along its trend (if one was set)."""
        base, quote = split_symbol(symbol)
        level = self.prices.get(base + quote, 100.0)
        rate, since = self.trends.get(base + quote, (0.0, 0.0))
        return level * (1 + rate * (t - since) / 3600) if rate else level

    def set_trend(self, symbol: str, per_hour: float) -> None:
        """Let the market drift by `per_hour` (0.05: 5 % an hour, linearly) from now on, and have drifted
        the same way before: its candles then show a steady trend, whatever the clock says."""
        base, quote = split_symbol(symbol)
        with self.lock:
            self.trends[base + quote] = (per_hour, self.clock())

    def set_price(self, symbol: str, price: float) -> None:
        """Move the market; resting limit orders that now cross fill."""
        base, quote = split_symbol(symbol)
        with self.lock:
            self.prices[base + quote] = price
            self._poll(base, quote)

    def poll(self) -> None:
        """Trigger and match the resting orders the market now reaches (the price moves with its trend)."""
        with self.lock:
            for market in {split_symbol(o.symbol) for o in self.placed if o.status == "OPEN"}:
                self._poll(*market)

    def _poll(self, base: str, quote: str) -> None:
        for order in self.placed:
            if order.status == "OPEN" and order.kind != "market" and split_symbol(order.symbol) == (base, quote):
                self._match(order, resting=True)

    def top(self, symbol: str) -> tuple[float, float]:
        p = self.price(symbol)
        return p * (1 - self.spread), p * (1 + self.spread)

    def candle(self, symbol: str, ts: int, tf: int) -> tuple[float, float, float, float, float] | None:
        """A deterministic candle (open, high, low, close, volume) for the bucket starting at `ts`."""
        if ts in self.missing_candles:
            return None

        def at(t: float) -> float:
            return round(self._level(symbol, t) * (1 + 0.02 * math.sin(t / 7200.0) + 0.005 * math.sin(t / 311.0)), 2)

        o, c = at(ts), at(ts + tf)
        mid = at(ts + tf / 2)
        return o, max(o, c, mid) * 1.0005, min(o, c, mid) * 0.9995, c, round(1 + (ts // tf) % 7 * 0.25, 4)

    # -- orders ---------------------------------------------------------------------------------
    def next_id(self, venue: str) -> str:
        return str(uuid.uuid4()) if venue == "coinbase" else str(9_780_000_000 + next(self._ids))

    def place(self, order: FakeOrder, partial: float = 1.0) -> FakeOrder:
        """Check funds, accept, and match `order` (a fresh one; duplicates are the API's business)."""
        with self.lock:
            base, quote = split_symbol(order.symbol)
            bid, ask = self.top(order.symbol)
            if order.side == "BUY":
                price = order.limit_price or ask
                need = order.quote_size if order.quote_size is not None else (order.base_size or 0) * price
                if need * (1 + self.fee_rate) > self.balances.get(quote, 0.0) + 1e-9:
                    raise OrderRefusedError("insufficient", f"insufficient {quote}: need {need:.8g}")
            else:
                size = order.base_size if order.base_size is not None else (order.quote_size or 0) / bid
                if size > self.balances.get(base, 0.0) + 1e-12:
                    raise OrderRefusedError("insufficient", f"insufficient {base}: need {size:.8g}")
            order.partial_fraction = partial
            self.orders[order.order_id] = order
            self.placed.append(order)
            self._match(order, resting=False)
            return order

    def cancel(self, order_id: str) -> FakeOrder | None:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None or order.status != "OPEN":
                return None
            order.status = "CANCELLED"
            return order

    def _match(self, order: FakeOrder, *, resting: bool) -> None:
        base, quote = split_symbol(order.symbol)
        bid, ask = self.top(order.symbol)
        price = ask if order.side == "BUY" else bid
        if order.kind == "stop_limit" and not order.triggered:
            assert order.stop_price is not None
            order.triggered = bid <= order.stop_price if order.side == "SELL" else ask >= order.stop_price
            if not order.triggered:
                return
        if order.kind in ("limit", "stop_limit"):
            assert order.limit_price is not None
            crosses = order.limit_price >= ask if order.side == "BUY" else order.limit_price <= bid
            if not crosses:
                return
            # a resting limit fills at its price (a maker); a triggered stop is a new taker order: at the book
            price = order.limit_price if resting and order.kind == "limit" else price
        total = order.base_size if order.base_size is not None else (order.quote_size or 0.0) / price
        size = (total - order.filled) * order.partial_fraction
        if size > 0:
            fee = size * price * self.fee_rate
            maker = resting and order.kind == "limit"
            order.fills.append(Fill(f"t{next(self._ids)}", price, size, fee, self.clock(), maker=maker))
            if order.side == "BUY":
                self.balances[quote] = self.balances.get(quote, 0.0) - size * price - fee
                self.balances[base] = self.balances.get(base, 0.0) + size
            else:
                self.balances[base] = self.balances.get(base, 0.0) - size
                self.balances[quote] = self.balances.get(quote, 0.0) + size * price - fee
        done = order.filled >= total * (1 - 1e-9)
        if done:
            order.status = "FILLED"
        elif order.kind == "market":
            order.status = "CANCELLED"  # immediate or cancel: the rest is gone
        order.partial_fraction = 1.0  # a partial fault applies to one matching only
