"""Coinbase Advanced Trade's public market data: candles and last prices, no account, no keys.

The requests go through the venue's own client (`coinswarm.venues.coinbase.CoinbaseClient` without a
key, so on the public `/api/v3/brokerage/market/...` paths): one Coinbase HTTP client, one way to read
its candles, its rate limit (the public bucket) and its errors. Unlike the trading client this source
does not retry: a driver that cannot read the market falls back (to a replay, say) at once.

- `fetch_candles`: closed candles, oldest first, in pages of at most PAGE_BARS buckets.
- `quotes`: the last trade's price (else the middle of the best bid and ask), stamped with its time.
- `probe`: one small ticker request that fails within about the connect timeout when the venue cannot
  be reached (the host name is resolved under the same deadline).

Every failure (unreachable, timed out, refused, HTTP error, not JSON, an unexpected shape) surfaces as
`MarketDataUnavailableError`, worded by the venue client (status code and URL path; no query, nothing
secret: these endpoints take none), with that client's `VenueError` as its cause.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from coinswarm.domain.models import Candle, Quote
from coinswarm.errors import MarketDataUnavailableError, VenueError
from coinswarm.ports.market import MarketData
from coinswarm.venues.coinbase import CoinbaseClient
from coinswarm.venues.coinbase_candles import granularity
from coinswarm.venues.retry import NO_RETRY

#: How many candles `fetch_candles(since_ts=None)` returns at most: the most recent ones.
RECENT_LIMIT = 500
#: The read timeout of `probe`: it must answer "unreachable" quickly, not wait out a slow venue.
PROBE_READ_TIMEOUT_S = 3.0


class CoinbasePublicMarketData(MarketData):
    venue = "coinbase"

    def __init__(
        self,
        base_url: str = "https://api.coinbase.com",
        *,
        connect_timeout_s: float = 1.5,
        read_timeout_s: float = 10.0,
        client: httpx.Client | None = None,
        recent_limit: int = RECENT_LIMIT,
    ) -> None:
        if connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if recent_limit < 1:
            raise ValueError(f"recent_limit must be at least 1, got {recent_limit}")
        self.base_url = base_url.rstrip("/")
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.recent_limit = recent_limit
        self.label = (
            "coinbase live" if self.base_url == "https://api.coinbase.com" else f"coinbase live ({self.base_url})"
        )
        self.coinbase = CoinbaseClient(
            base_url=self.base_url,
            client=client,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            retry=NO_RETRY,
        )

    # ------------------------------------------------------------------------------------------- port

    def fetch_candles(self, symbol: str, timeframe_s: int, *, since_ts: int | None, until_ts: int) -> list[Candle]:
        """Closed candles, oldest first, fetched in pages of at most PAGE_BARS buckets."""
        granularity(timeframe_s)  # a size Coinbase does not serve is refused before any request
        tf = timeframe_s
        last_start = (until_ts - tf) // tf * tf  # the newest bucket closed by until_ts
        first_start = last_start - (self.recent_limit - 1) * tf if since_ts is None else since_ts
        with _unavailable():
            return [c for page in self.coinbase.candle_pages(symbol, tf, first_start, until_ts) for c in page]

    def quotes(self, symbol: str, now: int) -> list[Quote]:
        """The last trade price as a Quote of venue "coinbase", stamped with the trade's time (at most `now`)."""
        with _unavailable():
            body = self.coinbase.ticker_answer(symbol)
        return [_quote(body, symbol, now)]

    # ------------------------------------------------------------------------------------------- probe

    def probe(self, symbol: str) -> None:
        """Raise MarketDataUnavailableError within about the connect timeout when the venue cannot be used.

        One small ticker request with a short read timeout; a host name is resolved first under the
        same deadline, because a resolver that cannot be reached can otherwise block for many seconds.
        """
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if not _is_ip(host):
            _resolve_within(host, parts.port or (443 if parts.scheme == "https" else 80), self.connect_timeout_s)
        timeout = httpx.Timeout(min(self.read_timeout_s, PROBE_READ_TIMEOUT_S), connect=self.connect_timeout_s)
        with _unavailable():
            self.coinbase.ticker_answer(symbol, timeout=timeout)

    # ------------------------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self.coinbase.close()  # the HTTP client only when it made it

    def __enter__(self) -> CoinbasePublicMarketData:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


@contextmanager
def _unavailable() -> Iterator[None]:
    """The venue client's errors as the market data port's: MarketDataUnavailableError, worded the same."""
    try:
        yield
    except VenueError as exc:
        raise MarketDataUnavailableError(str(exc)) from exc


def _quote(body: dict[str, Any], symbol: str, now: int) -> Quote:
    """The last trade's price and time (at most `now`), else the middle of the book stamped `now`."""
    trades = body.get("trades")
    price: float | None = None
    ts = now
    if isinstance(trades, list) and trades and isinstance(trades[0], dict):
        price = _positive(trades[0].get("price"))
        traded = _epoch(trades[0].get("time"))
        if traded is not None:
            ts = min(traded, now)
    if price is None:  # no trade in the answer: the middle of the book, when there is one
        bid, ask = _positive(body.get("best_bid")), _positive(body.get("best_ask"))
        if bid is not None and ask is not None:
            price = (bid + ask) / 2
    if price is None:
        raise MarketDataUnavailableError(
            f"coinbase answered the ticker of {symbol} with no price for {symbol} (no trade, no bid and ask)"
        )
    return Quote(venue="coinbase", symbol=symbol, price=price, ts=ts)


def _positive(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def _epoch(value: Any) -> int | None:
    """`2024-04-24T09:56:38.063595Z` -> 1713952598 (whole seconds); None when it is not such a time."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    head, dot, rest = text.partition(".")
    if dot:  # keep at most microseconds: some answers carry nanoseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}" if digits else head + rest
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp()) if moment.tzinfo is not None else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolve_within(host: str, port: int, timeout_s: float) -> None:
    """Resolve `host` or raise MarketDataUnavailableError, giving up after `timeout_s` (the lookup itself may
    go on in a daemon thread; the system resolver has no deadline of its own)."""
    outcome: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        raise MarketDataUnavailableError(f"coinbase: the name {host} did not resolve within {timeout_s} s (offline?)")
    error = outcome[0]
    if error is not None:
        raise MarketDataUnavailableError(f"coinbase: the name {host} does not resolve ({error}; offline?)")
