"""Replay: candles held in memory, served as if they were arriving live (backtests, --replay, --synthetic)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from itertools import pairwise

from coinswarm.domain.models import Candle, iso
from coinswarm.ports.market import MarketData

#: How many candles `fetch_candles(since_ts=None)` returns at most: the most recent ones.
RECENT_LIMIT = 500


class ReplayMarketData(MarketData):
    """Serves closed candles of fixed series, one timeframe for all symbols.

    `fetch_candles` bisects a precomputed list of open times: O(log n) plus the candles returned,
    cheap enough to call once per bar over a series of hundreds of thousands.
    """

    venue = "replay"

    def __init__(self, series: Mapping[str, Sequence[Candle]], *, label: str, recent_limit: int = RECENT_LIMIT) -> None:
        if not series:
            raise ValueError("nothing to replay: no series given")
        if recent_limit < 1:
            raise ValueError(f"recent_limit must be at least 1, got {recent_limit}")
        self.label = label
        self.recent_limit = recent_limit
        self._candles: dict[str, list[Candle]] = {}
        self._ts: dict[str, list[int]] = {}
        timeframes: dict[int, str] = {}
        for symbol, candles in series.items():
            if not candles:
                raise ValueError(f"{symbol}: the series to replay is empty")
            kept = list(candles)
            stamps = [c.ts for c in kept]
            for a, b in pairwise(stamps):
                if b <= a:
                    raise ValueError(f"{symbol}: candles must be in increasing time; {iso(b)} follows {iso(a)}")
            others = {c.symbol for c in kept} - {symbol}
            if others:
                raise ValueError(f"{symbol}: the series holds candles of {', '.join(sorted(others))}")
            for tf in {c.timeframe_s for c in kept}:
                timeframes.setdefault(tf, symbol)
            self._candles[symbol] = kept
            self._ts[symbol] = stamps
        if len(timeframes) != 1:
            mixed = ", ".join(f"{tf} s ({symbol})" for tf, symbol in sorted(timeframes.items()))
            raise ValueError(f"a replay serves one timeframe; these series mix {mixed}")
        self.timeframe_s: int = next(iter(timeframes))

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._candles)

    def first_ts(self, symbol: str) -> int:
        """Open time of the symbol's first candle."""
        return self._stamps(symbol)[0]

    def last_ts(self, symbol: str) -> int:
        """Open time of the symbol's last candle (it closes `timeframe_s` later)."""
        return self._stamps(symbol)[-1]

    def fetch_candles(self, symbol: str, timeframe_s: int, *, since_ts: int | None, until_ts: int) -> list[Candle]:
        stamps = self._stamps(symbol)
        if timeframe_s != self.timeframe_s:
            raise ValueError(
                f"{self.label}: holds {self.timeframe_s} s candles, asked for {timeframe_s} s ones for {symbol}"
            )
        hi = bisect_right(stamps, until_ts - timeframe_s)  # closed by until_ts: ts + timeframe_s <= until_ts
        lo = max(0, hi - self.recent_limit) if since_ts is None else bisect_left(stamps, since_ts)
        return self._candles[symbol][lo:hi] if lo < hi else []

    def _stamps(self, symbol: str) -> list[int]:
        try:
            return self._ts[symbol]
        except KeyError:
            known = ", ".join(self._ts)
            raise KeyError(f"{self.label}: no candles for {symbol!r}; known symbols: {known}") from None
