"""Missing candles: where a series skips whole bars.

A gap sits between two consecutive candles whose open times are more than one timeframe apart.
Exchanges publish no candle for a bar without trades, and downloads break off, so real series have
gaps; indicators that assume one bar per step must know where they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from coinswarm.domain.models import Candle, iso


@dataclass(frozen=True, slots=True)
class Gap:
    """`missing` whole bars absent between the candle opening at `after_ts` and the one at `before_ts`."""

    symbol: str
    after_ts: int
    before_ts: int
    missing: int

    def describe(self) -> str:
        noun = "candle" if self.missing == 1 else "candles"
        between = f"between {iso(self.after_ts)} and {iso(self.before_ts)}"
        return f"{self.symbol}: {self.missing} {noun} missing {between}"


def gap_between(prev_ts: int, next_ts: int, timeframe_s: int, symbol: str) -> Gap | None:
    """The gap between two consecutive bars opening at `prev_ts` and `next_ts`, or None when none is missing.

    O(1): the trading stages call it once per bar. Only whole bars count, so a step of 2.5 bars reports
    one missing bar; a step of one bar or less (including a repeated or earlier bar) reports none.
    """
    if timeframe_s <= 0:
        raise ValueError(f"timeframe_s must be positive, got {timeframe_s}")
    missing = (next_ts - prev_ts) // timeframe_s - 1
    if missing <= 0:
        return None
    return Gap(symbol=symbol, after_ts=prev_ts, before_ts=next_ts, missing=missing)


def find_gaps(candles: Sequence[Candle]) -> list[Gap]:
    """Every gap of a series in time order, using each candle's own symbol and timeframe."""
    gaps: list[Gap] = []
    for prev, nxt in pairwise(candles):
        if nxt.ts - prev.ts > prev.timeframe_s:
            gap = gap_between(prev.ts, nxt.ts, prev.timeframe_s, prev.symbol)
            if gap is not None:
                gaps.append(gap)
    return gaps
