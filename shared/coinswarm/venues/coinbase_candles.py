"""Coinbase Advanced Trade's candles: the sizes it serves, the requests that cover a range, one row read.

The venue client (`coinswarm.venues.coinbase.CoinbaseClient.candle_pages`) reads candles with these,
keyed or not; the public market data (`coinswarm.marketdata.coinbase_public`) reads them through it.

The endpoint (`GET .../products/{product_id}/candles?start=&end=&granularity=&limit=`) takes UNIX
seconds and answers `{"candles": [{"start", "low", "high", "open", "close", "volume"}, ...]}`, all
strings, newest first. `granularity` raises ValueError for a size Coinbase does not serve; `pages`
says which requests cover a range; `parse_candle` raises KeyError, TypeError or ValueError (pydantic's
ValidationError among them) for a row it cannot read, which the client words as MalformedAnswerError.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coinswarm.domain.models import Candle

#: Candle sizes the candles endpoint serves, by `timeframe_s`.
GRANULARITIES: dict[int, str] = {
    60: "ONE_MINUTE",
    300: "FIVE_MINUTE",
    900: "FIFTEEN_MINUTE",
    1800: "THIRTY_MINUTE",
    3600: "ONE_HOUR",
    7200: "TWO_HOUR",
    21600: "SIX_HOUR",
    86400: "ONE_DAY",
}
#: The documented maximum of candles per request.
MAX_CANDLES_PER_REQUEST = 350
#: Buckets asked for per request. Below the documented 350 on purpose: clients (ccxt among them) have
#: found requests over 300 buckets refused, and `end` may be inclusive, which adds one bucket.
PAGE_BARS = 300


def granularity(timeframe_s: int) -> str:
    """Coinbase's name for a candle size; ValueError naming the sizes it serves otherwise."""
    name = GRANULARITIES.get(timeframe_s)
    if name is None:
        sizes = ", ".join(f"{tf} s" for tf in GRANULARITIES)
        raise ValueError(f"Coinbase serves candles of {sizes}; not {timeframe_s} s")
    return name


def pages(first_start: int, last_start: int, timeframe_s: int) -> Iterator[tuple[int, int, dict[str, str]]]:
    """For the buckets starting from `first_start` to `last_start` (both aligned), each request's first
    bucket, its bucket count (at most PAGE_BARS) and its query parameters."""
    tf = timeframe_s
    name = granularity(tf)
    start = first_start
    while start <= last_start:
        count = min(PAGE_BARS, (last_start - start) // tf + 1)
        yield (
            start,
            count,
            {"start": str(start), "end": str(start + count * tf), "granularity": name, "limit": str(count + 1)},
        )
        start += count * tf


def parse_candle(row: Any, symbol: str, timeframe_s: int) -> Candle:
    """One row of the answer as a Candle of `symbol`."""
    return Candle(
        symbol=symbol,
        ts=int(row["start"]),
        open=float(row["open"]),
        high=float(row["high"]),
        low=float(row["low"]),
        close=float(row["close"]),
        volume=float(row["volume"]),
        timeframe_s=timeframe_s,
    )
