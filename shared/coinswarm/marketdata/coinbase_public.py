"""Coinbase Advanced Trade's public market data over HTTP: candles and last prices, no account, no keys.

Endpoints (https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/public/):
- `GET /api/v3/brokerage/market/products/{product_id}/candles?start=&end=&granularity=&limit=`:
  `start`/`end` are UNIX seconds; `limit` defaults to 350, the documented maximum per request. The
  answer is `{"candles": [{"start": "<epoch s>", "low", "high", "open", "close", "volume"}, ...]}`,
  all strings, newest first, and may include the bar still in progress.
- `GET /api/v3/brokerage/market/products/{product_id}/ticker?limit=1`: the last trades and best bid/ask,
  `{"trades": [{"price", "size", "time", ...}], "best_bid", "best_ask"}`.

Every failure (unreachable, timed out, refused, HTTP error, not JSON, an unexpected shape) surfaces as
`MarketDataUnavailableError` saying what happened, with the status code and the URL path (no query, nothing
secret: these endpoints take none).
"""

from __future__ import annotations

import ipaddress
import math
import socket
import threading
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import ValidationError

from coinswarm import __version__
from coinswarm.domain.models import Candle, Quote
from coinswarm.errors import MarketDataUnavailableError
from coinswarm.ports.market import MarketData
from coinswarm.venues.coinbase_candles import granularity, pages, parse_candle

#: How many candles `fetch_candles(since_ts=None)` returns at most: the most recent ones.
RECENT_LIMIT = 500
#: The read timeout of `probe`: it must answer "unreachable" quickly, not wait out a slow venue.
PROBE_READ_TIMEOUT_S = 3.0

_API = "/api/v3/brokerage/market/products"


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
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else httpx.Client(headers={"Accept": "application/json", "User-Agent": f"coinswarm/{__version__}"})
        )

    # ------------------------------------------------------------------------------------------- port

    def fetch_candles(self, symbol: str, timeframe_s: int, *, since_ts: int | None, until_ts: int) -> list[Candle]:
        """Closed candles, oldest first, fetched in pages of at most PAGE_BARS buckets."""
        granularity(timeframe_s)  # a size Coinbase does not serve is refused before any request
        tf = timeframe_s
        last_start = (until_ts - tf) // tf * tf  # the newest bucket closed by until_ts
        first_start = last_start - (self.recent_limit - 1) * tf if since_ts is None else -(-since_ts // tf) * tf
        path = f"{_API}/{quote(symbol, safe='')}/candles"
        found: dict[int, Candle] = {}
        for start, _, params in pages(first_start, last_start, tf):
            body = self._get_json(path, params)
            for candle in self._parse_candles(body, symbol, tf, path):
                if start <= candle.ts and candle.close_ts <= until_ts:
                    found[candle.ts] = candle
        return [found[ts] for ts in sorted(found)]

    def quotes(self, symbol: str, now: int) -> list[Quote]:
        """The last trade price as a Quote of venue "coinbase", stamped with the trade's time (at most `now`)."""
        path = f"{_API}/{quote(symbol, safe='')}/ticker"
        body = self._get_json(path, {"limit": "1"})
        return [self._parse_quote(body, symbol, now, path)]

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
        path = f"{_API}/{quote(symbol, safe='')}/ticker"
        body = self._get_json(path, {"limit": "1"}, timeout=timeout)
        if not isinstance(body, dict):
            raise MarketDataUnavailableError(f"coinbase answered GET {path} with JSON that is not an object")

    # ------------------------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> CoinbasePublicMarketData:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------- HTTP

    def _get_json(self, path: str, params: dict[str, str], *, timeout: httpx.Timeout | None = None) -> Any:
        timeout = self._timeout if timeout is None else timeout
        where = f"GET {path}"
        try:
            response = self._client.get(self.base_url + path, params=params, timeout=timeout)
        except httpx.ConnectTimeout:
            raise MarketDataUnavailableError(
                f"coinbase: connecting to {self.base_url} took longer than {timeout.connect} s ({where})"
            ) from None
        except httpx.TimeoutException as exc:
            raise MarketDataUnavailableError(
                f"coinbase: no answer within {timeout.read} s ({where}; {type(exc).__name__})"
            ) from None
        except httpx.ConnectError as exc:
            raise MarketDataUnavailableError(
                f"coinbase: cannot connect to {self.base_url} ({exc or 'connection failed'}; {where})"
            ) from None
        except httpx.HTTPError as exc:
            raise MarketDataUnavailableError(f"coinbase: {where} failed: {type(exc).__name__}: {exc}") from None
        if not response.is_success:
            hint = " (rate limited: slow down)" if response.status_code == 429 else ""
            detail = _error_detail(response)
            raise MarketDataUnavailableError(
                f"coinbase answered HTTP {response.status_code}{hint} to {where}" + (f": {detail}" if detail else "")
            )
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise MarketDataUnavailableError(
                f"coinbase answered {where} with something that is not JSON ({len(response.content)} bytes, {kind})"
            ) from None

    # ------------------------------------------------------------------------------------------- parsing

    @staticmethod
    def _parse_candles(body: Any, symbol: str, timeframe_s: int, path: str) -> list[Candle]:
        rows = body.get("candles") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise MarketDataUnavailableError(f"coinbase answered GET {path} without a list of candles")
        out = []
        for row in rows:
            try:
                out.append(parse_candle(row, symbol, timeframe_s))
            except (KeyError, TypeError, ValueError, ValidationError) as exc:
                reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
                raise MarketDataUnavailableError(
                    f"coinbase sent a malformed candle for {symbol} (GET {path}): {str(row)[:200]} ({reason})"
                ) from None
        return out

    @staticmethod
    def _parse_quote(body: Any, symbol: str, now: int, path: str) -> Quote:
        if not isinstance(body, dict):
            raise MarketDataUnavailableError(f"coinbase answered GET {path} with JSON that is not an object")
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
            raise MarketDataUnavailableError(f"coinbase answered GET {path} with no price for {symbol}")
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


def _error_detail(response: httpx.Response) -> str:
    """The venue's own words about an error, shortened: its `message` or `error`, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error", "error_details"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:200]
    return " ".join(response.text.split())[:200]


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
