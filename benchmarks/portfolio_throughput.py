"""The portfolio backtest against the single-symbol one, per bar: the committee over 3 symbols x --bars
five-minute bars in one account, beside the same symbols backtested one by one (the same bars in all).

Each side is timed in CPU seconds of this process (steadier than the wall clock on a shared machine),
alternately, `ROUNDS` times; the best of each is kept. Both sides first run once over a few bars, untimed:
the first backtest in a process pays for imports and for building model validators, which is no cost
per bar and would otherwise fall on whichever side runs first. Target: the portfolio no slower per bar."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

from coinswarm.backtest.engine import BacktestOptions, run_backtest
from coinswarm.config.settings import Settings

from .optimize_timing import market_series

ROUNDS = 5  # with 3, the ratio of the same code spread from 0.93 to 1.05 over idle runs
WARM_UP_BARS = 2_000
COMMITTEE = BacktestOptions(strategy="committee")


@dataclass(frozen=True)
class PortfolioTimes:
    symbols: int
    bars: int  # every symbol's bars counted
    portfolio_cpu_s: float
    singles_cpu_s: float
    trades: int
    description: str

    @property
    def ratio(self) -> float:
        return self.portfolio_cpu_s / self.singles_cpu_s


def _cpu(work: object) -> float:
    gc.collect()
    started = time.process_time()
    work()  # type: ignore[operator]
    gc.collect()
    return time.process_time() - started


def measure(bars: int = 100_000) -> PortfolioTimes:
    series, description = market_series(bars)
    settings = Settings()
    trades = 0

    def portfolio() -> None:
        nonlocal trades
        trades = run_backtest(series, settings, COMMITTEE, label="benchmark").metrics.trades

    def singles() -> None:
        for candles in series.values():
            run_backtest(candles, settings, COMMITTEE, label="benchmark")

    warm = {symbol: candles[:WARM_UP_BARS] for symbol, candles in series.items()}
    run_backtest(warm, settings, COMMITTEE, label="benchmark")
    for candles in warm.values():
        run_backtest(candles, settings, COMMITTEE, label="benchmark")
    p_best, s_best = float("inf"), float("inf")
    for _ in range(ROUNDS):
        p_best = min(p_best, _cpu(portfolio))
        s_best = min(s_best, _cpu(singles))
    total = sum(len(c) for c in series.values())
    return PortfolioTimes(len(series), total, p_best, s_best, trades, description)


def report(t: PortfolioTimes) -> bool:
    print("== portfolio backtest " + "=" * 78)
    print(f"data       {t.description}")
    print(
        f"portfolio  {t.symbols} symbols, {t.bars:,} bars in one account: {t.portfolio_cpu_s:.1f} s CPU "
        f"({t.bars / t.portfolio_cpu_s:,.0f} bars/s), {t.trades} trades"
    )
    print(
        f"singles    the same symbols one by one: {t.singles_cpu_s:.1f} s CPU ({t.bars / t.singles_cpu_s:,.0f} bars/s)"
    )
    ok = t.ratio <= 1.0
    print(f"ratio      portfolio / singles per bar = {t.ratio:.2f}; target <= 1.0: {'PASS' if ok else 'MISS'}")
    return ok
