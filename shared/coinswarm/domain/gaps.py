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


# -- holes: missing bars still asked for ----------------------------------------------------------------
# A venue may publish a bar late (it had not closed its books on that minute when asked), or never (no
# trade in it). The ingest stage keeps the missing bars it saw as holes and asks the venue again on the
# following cycles, until the bar arrives or falls out of the backfill horizon.


@dataclass(frozen=True, slots=True)
class Hole:
    """Bars missing from `first_ts` to `last_ts` (open times, both included), one every timeframe."""

    first_ts: int
    last_ts: int

    def count(self, timeframe_s: int) -> int:
        return (self.last_ts - self.first_ts) // timeframe_s + 1

    def describe(self, symbol: str, timeframe_s: int) -> str:
        n = self.count(timeframe_s)
        noun = "candle" if n == 1 else "candles"
        where = f"at {iso(self.first_ts)}" if n == 1 else f"from {iso(self.first_ts)} to {iso(self.last_ts)}"
        return f"{symbol}: {n} {noun} missing {where}"


def hole_of(gap: Gap, timeframe_s: int) -> Hole:
    """The whole bars a gap misses, on the grid of the candle before it."""
    return Hole(gap.after_ts + timeframe_s, gap.after_ts + gap.missing * timeframe_s)


def fill_holes(holes: Sequence[Hole], present: set[int], timeframe_s: int) -> tuple[list[Hole], list[int]]:
    """Holes less the bars now `present` (open times): what is still missing, split where a bar came
    back, and the open times filled, oldest first."""
    still: list[Hole] = []
    filled: list[int] = []
    for hole in holes:
        run_start: int | None = None
        for ts in range(hole.first_ts, hole.last_ts + 1, timeframe_s):
            if ts in present:
                filled.append(ts)
                if run_start is not None:
                    still.append(Hole(run_start, ts - timeframe_s))
                    run_start = None
            elif run_start is None:
                run_start = ts
        if run_start is not None:
            still.append(Hole(run_start, hole.last_ts))
    return still, filled


def since(hole: Hole, oldest_ts: int, timeframe_s: int) -> Hole | None:
    """The hole's bars opening at or after `oldest_ts` (None when none does)."""
    if hole.last_ts < oldest_ts:
        return None
    if hole.first_ts >= oldest_ts:
        return hole
    return Hole(hole.first_ts + -(-(oldest_ts - hole.first_ts) // timeframe_s) * timeframe_s, hole.last_ts)


def within_horizon(holes: Sequence[Hole], oldest_ts: int, max_holes: int) -> tuple[list[Hole], list[Hole]]:
    """(kept, given up), oldest first: a hole is given up whole once its newest bar opened before
    `oldest_ts`, and beyond the newest `max_holes` the oldest are given up too."""
    ordered = sorted(holes, key=lambda h: h.first_ts)
    kept = [h for h in ordered if h.last_ts >= oldest_ts]
    given_up = [h for h in ordered if h.last_ts < oldest_ts]
    if len(kept) > max_holes:
        given_up.extend(kept[: len(kept) - max_holes])
        kept = kept[len(kept) - max_holes :]
    return kept, given_up
