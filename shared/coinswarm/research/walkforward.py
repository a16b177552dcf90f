"""The data of a walk-forward search and the backtest of one window of it.

Contract: a `Market` holds each symbol's candles on one grid of bar positions (the span every file
covers); `Market.window(bars)` is the only way a search reads candles, so a test can watch which bars
it read. `evaluate(settings, candles, cash)` backtests the committee over all the symbols in one account
(the portfolio backtest: one cash balance and one set of risk limits, as the bot trades) and returns
the account's curve, buy-and-hold (the cash split equally) over the same bars, and the statistics of
backtest/stats.py. `stitch(windows, cash)` chains the test windows' curves into one out-of-sample
curve, each window starting from where the previous one ended.

Each window is replayed on its own: the agents start cold at its first bar, in the train windows and
the test windows alike (no bar before a window reaches it).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coinswarm.backtest.analysis import PriceSeries, buy_and_hold
from coinswarm.backtest.engine import BacktestOptions, run_backtest
from coinswarm.backtest.stats import Stats, compute_stats
from coinswarm.backtest.trades import closed_trades, trade_stats
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle, Fill


class MarketError(ValueError):
    """Candle files that cannot be searched together; the message says what to change."""


@dataclass
class Market:
    series: dict[str, list[Candle]]
    start_ts: int
    timeframe_s: int
    bars: int
    _ts: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def window(self, bars: range) -> dict[str, list[Candle]]:
        """Each symbol's candles that open within bar positions `bars` of the grid (none is left out
        for a gap in another file)."""
        lo = self.start_ts + bars.start * self.timeframe_s
        hi = self.start_ts + bars.stop * self.timeframe_s
        out: dict[str, list[Candle]] = {}
        for symbol, candles in self.series.items():
            ts = self._ts.setdefault(symbol, [c.ts for c in candles])
            part = candles[bisect_left(ts, lo) : bisect_left(ts, hi)]
            if part:
                out[symbol] = part
        return out

    def ts_of(self, bar: int) -> int:
        return self.start_ts + bar * self.timeframe_s


def market_from(series: Mapping[str, Sequence[Candle]]) -> Market:
    """The files cut to the span all of them cover, on the grid of their common candle size."""
    if not series:
        raise MarketError("give at least one candle file")
    sizes = {s: c[0].timeframe_s for s, c in series.items() if c}
    if len(sizes) != len(series):
        raise MarketError(f"no candles for {', '.join(sorted(set(series) - set(sizes)))}")
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{s} {tf} s" for s, tf in sizes.items())
        raise MarketError(f"the files have different candle sizes ({shown}): search files of one size together")
    tf = next(iter(sizes.values()))
    start = max(c[0].ts for c in series.values())
    stop = min(c[-1].ts for c in series.values()) + tf
    if stop <= start:
        raise MarketError("the files cover no common time span: search files of the same period together")
    cut = {s: [c for c in candles if start <= c.ts < stop] for s, candles in series.items()}
    return Market(series=cut, start_ts=start, timeframe_s=tf, bars=(stop - start) // tf)


@dataclass(frozen=True)
class WindowResult:
    ts: list[int]
    equity: list[float]
    buy_hold: list[float]
    stats: Stats
    fills: list[Fill]
    start_equity: float

    def figures(self) -> dict[str, float]:
        s = self.stats
        return {
            "return_pct": s.return_pct,
            "return_ann_pct": s.return_ann_pct,
            "sharpe": s.sharpe,
            "sortino": s.sortino,
            "calmar": s.calmar,
            "max_drawdown_pct": s.max_drawdown_pct,
            "trades": s.trades,
            "profit": s.equity_final - self.start_equity,
            "buy_hold_return_pct": s.buy_hold_return_pct,
            "bars": len(self.ts),
        }


def evaluate(
    settings: Settings, candles: Mapping[str, list[Candle]], cash: float, *, buy_hold: list[float] | None = None
) -> WindowResult:
    """The committee over the window's symbols in one account (the portfolio backtest), as the bot trades
    them: they share the cash and the risk limits. `buy_hold`: the window's buy-and-hold curve from an
    earlier evaluation of the same candles and cash (it depends on nothing else)."""
    if not candles:
        raise MarketError("a window with no candles: give longer windows or fewer folds")
    run = run_backtest(dict(candles), settings, BacktestOptions(cash=cash))
    bh = buy_hold
    if bh is None or len(bh) != len(run.ts):
        bh = buy_and_hold([PriceSeries(symbol, run.closes[symbol]) for symbol in candles], cash)
    stats = compute_stats(run.ts, run.equity, bh, trade_stats(closed_trades(run.fills), run.ts))
    return WindowResult(ts=run.ts, equity=run.equity, buy_hold=bh, stats=stats, fills=run.fills, start_equity=cash)


@dataclass(frozen=True)
class Stitched:
    ts: list[int]
    equity: list[float]
    buy_hold: list[float]
    stats: Stats
    trades: int

    def figures(self, cash: float) -> dict[str, Any]:
        s = self.stats
        return {
            "return_pct": s.return_pct,
            "return_ann_pct": s.return_ann_pct,
            "sharpe": s.sharpe,
            "sortino": s.sortino,
            "calmar": s.calmar,
            "max_drawdown_pct": s.max_drawdown_pct,
            "trades": self.trades,
            "profit": s.equity_final - cash,
            "buy_hold_return_pct": s.buy_hold_return_pct,
            "bars": len(self.ts),
        }


def stitch(windows: Sequence[WindowResult], cash: float) -> Stitched:
    """The test windows one after the other: each curve (and buy-and-hold's) scaled to start where the
    previous one ended."""
    ts: list[int] = []
    equity: list[float] = []
    bh: list[float] = []
    at, bh_at = cash, cash
    for w in windows:
        k, kb = at / w.start_equity, bh_at / w.start_equity
        ts.extend(w.ts)
        equity.extend(e * k for e in w.equity)
        bh.extend(b * kb for b in w.buy_hold)
        at, bh_at = equity[-1], bh[-1]
    stats = compute_stats(ts, equity, bh, [])
    return Stitched(ts=ts, equity=equity, buy_hold=bh, stats=stats, trades=sum(w.stats.trades for w in windows))
