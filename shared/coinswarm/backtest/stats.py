"""A backtest's statistics, defined as backtesting.py's `compute_stats` defines them.

Contract: `compute_stats(bars_ts, equity, closes, trades)` returns a `Stats` whose every figure equals
backtesting.py's (0.6) figure of the same name for the same equity curve and trades, to floating-point
rounding. Pure Python: a backtest needs neither numpy nor pandas. docs/backtest-report.md says what
each figure means and where it differs from other tools' figures of the same name.

- Daily returns: the last equity of each UTC calendar day, as simple returns between consecutive days
  that have bars; annualised over 365 days when weekends trade (crypto), else 252.
- A trade's return is its P&L (net of every fee) over its entry notional: backtesting.py's `pl_pct`.
- Durations are rounded up to the unit of the bar period (a day for daily bars, an hour for hourly, a
  minute for 5-minute bars), as backtesting.py shows them.
- `first_trading_bar`: the bar the buy-and-hold comparison starts from (the end of the warm-up).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

DAY_S = 86_400
NAN = math.nan


@dataclass(frozen=True, slots=True)
class TradeStat:
    """What the statistics need of one closed trade."""

    entry_bar: int
    exit_bar: int
    entry_ts: int
    exit_ts: int
    pnl: float  # net of every fee, in the quote currency
    return_frac: float  # pnl / entry notional (0.01 = 1 %)


@dataclass(frozen=True, slots=True)
class Stats:
    """The figures of a backtest; NaN where the figure is undefined (no trades, no losing trade...)."""

    start_ts: int
    end_ts: int
    equity_final: float
    equity_peak: float
    return_pct: float
    buy_hold_return_pct: float
    cagr_pct: float
    return_ann_pct: float
    volatility_ann_pct: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown_pct: float
    avg_drawdown_pct: float
    max_drawdown_duration_days: float
    avg_drawdown_duration_days: float
    exposure_pct: float
    trades: int
    win_rate_pct: float
    best_trade_pct: float
    worst_trade_pct: float
    avg_trade_pct: float
    max_trade_duration_hours: float
    avg_trade_duration_hours: float
    profit_factor: float
    expectancy_pct: float
    sqn: float


def geometric_mean(returns: Sequence[float]) -> float:
    """backtesting.py's geometric mean of simple returns: 0 when any return is -100 % or worse."""
    if not returns:
        return NAN
    grown = [1.0 + (0.0 if math.isnan(r) else r) for r in returns]
    if any(g <= 0 for g in grown):
        return 0.0
    return math.exp(math.fsum(math.log(g) for g in grown) / len(grown)) - 1.0


def daily_returns(bars_ts: Sequence[int], equity: Sequence[float]) -> list[float]:
    """Simple returns between the last equities of consecutive UTC days that have bars."""
    closes: list[float] = []
    day = None
    for ts, e in zip(bars_ts, equity, strict=True):
        d = ts // DAY_S
        if d == day:
            closes[-1] = e
        else:
            closes.append(e)
            day = d
    return [b / a - 1.0 for a, b in pairwise(closes)]


def annual_days(bars_ts: Sequence[int]) -> int:
    """365 where at least 60 % of weekend days' share of bars fall on weekends (markets that trade them)."""
    weekend = sum(1 for ts in bars_ts if datetime.fromtimestamp(ts, UTC).weekday() >= 5)
    return 365 if weekend / len(bars_ts) > 2 / 7 * 0.6 else 252


def _variance(xs: Sequence[float]) -> float:
    """Sample variance (ddof 1), NaN under two values."""
    if len(xs) < 2:
        return NAN
    mean = math.fsum(xs) / len(xs)
    return math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)


def _div(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else NAN


def duration_unit_s(bars_ts: Sequence[int]) -> int:
    """The unit durations round up to: the smallest unit (day, hour, minute, second) of the median bar
    period over the last 100 bars."""
    tail = bars_ts[-100:]
    gaps = sorted(b - a for a, b in pairwise(tail))
    if not gaps:
        return 1
    mid = len(gaps) // 2
    period = gaps[mid] if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) / 2
    return next((unit for unit in (DAY_S, 3600, 60) if period % unit == 0), 1)


def _round_up(seconds: float, unit: int) -> float:
    return math.ceil(seconds / unit - 1e-9) * unit


def _sortino(ann_return: float, downside_dev: float) -> float:
    """Infinite when no day lost (as backtesting.py's division gives), NaN when undefined."""
    if downside_dev == 0.0 and ann_return:
        return math.copysign(math.inf, ann_return)
    return _div(ann_return, downside_dev)


def drawdowns(bars_ts: Sequence[int], equity: Sequence[float]) -> tuple[list[float], list[float], list[float]]:
    """Per bar drawdown (fraction below the running peak), and per drawdown episode its duration (s) and
    its deepest point, as backtesting.py's `compute_drawdown_duration_peaks` (an episode still open at the
    last bar counts up to it)."""
    dd: list[float] = []
    peak = -math.inf
    for e in equity:
        peak = max(peak, e)
        dd.append(1.0 - e / peak)
    marks = [i for i, x in enumerate(dd) if x == 0.0]
    if not marks or marks[-1] != len(dd) - 1:
        marks.append(len(dd) - 1)
    durations: list[float] = []
    peaks: list[float] = []
    for prev, cur in pairwise(marks):
        if cur > prev + 1:
            durations.append(float(bars_ts[cur] - bars_ts[prev]))
            peaks.append(max(dd[prev : cur + 1]))
    return dd, durations, peaks


def compute_stats(
    bars_ts: Sequence[int],
    equity: Sequence[float],
    closes: Sequence[float],
    trades: Sequence[TradeStat],
    *,
    first_trading_bar: int = 0,
) -> Stats:
    """The statistics of one equity curve (one value per bar) and its closed trades."""
    if not equity or len(bars_ts) != len(equity) or len(closes) != len(equity):
        raise ValueError("give one timestamp, one equity and one close per bar, for at least one bar")
    n = len(equity)
    start, final = equity[0], equity[-1]

    dd, dd_durations, dd_peaks = drawdowns(bars_ts, equity)
    max_dd = max(dd)

    days = annual_days(bars_ts)
    day_rets = daily_returns(bars_ts, equity)
    g = geometric_mean(day_rets)
    ann_return = (1.0 + g) ** days - 1.0
    var = _variance(day_rets)
    vol = math.sqrt((var + (1.0 + g) ** 2) ** days - (1.0 + g) ** (2 * days)) if not math.isnan(var) else NAN
    downside = [min(r, 0.0) ** 2 for r in day_rets]
    downside_dev = math.sqrt(math.fsum(downside) / len(downside)) * math.sqrt(days) if downside else NAN

    years = (bars_ts[-1] - bars_ts[0]) / DAY_S / 365.25
    cagr = ((final / start) ** (1.0 / years) - 1.0) * 100.0 if years else NAN

    exposed = [False] * n
    for t in trades:
        for i in range(t.entry_bar, min(t.exit_bar, n - 1) + 1):
            exposed[i] = True

    unit = duration_unit_s(bars_ts)
    rets = [t.return_frac for t in trades]
    pnls = [t.pnl for t in trades]
    held = [float(t.exit_ts - t.entry_ts) for t in trades]
    n_trades = len(trades)
    pnl_std = math.sqrt(_variance(pnls)) if n_trades > 1 else NAN
    b0 = closes[first_trading_bar]

    return Stats(
        start_ts=bars_ts[0],
        end_ts=bars_ts[-1],
        equity_final=final,
        equity_peak=max(equity),
        return_pct=(final - start) / start * 100.0,
        buy_hold_return_pct=(closes[-1] - b0) / b0 * 100.0,
        cagr_pct=cagr,
        return_ann_pct=ann_return * 100.0,
        volatility_ann_pct=vol * 100.0,
        sharpe=_div(ann_return * 100.0, vol * 100.0),
        sortino=_sortino(ann_return, downside_dev),
        calmar=_div(ann_return, max_dd),
        max_drawdown_pct=-max_dd * 100.0,
        avg_drawdown_pct=-(math.fsum(dd_peaks) / len(dd_peaks)) * 100.0 if dd_peaks else NAN,
        max_drawdown_duration_days=_round_up(max(dd_durations), unit) / DAY_S if dd_durations else NAN,
        avg_drawdown_duration_days=(
            _round_up(math.fsum(dd_durations) / len(dd_durations), unit) / DAY_S if dd_durations else NAN
        ),
        exposure_pct=sum(exposed) / n * 100.0,
        trades=n_trades,
        win_rate_pct=sum(1 for p in pnls if p > 0) / n_trades * 100.0 if n_trades else NAN,
        best_trade_pct=max(rets) * 100.0 if rets else NAN,
        worst_trade_pct=min(rets) * 100.0 if rets else NAN,
        avg_trade_pct=geometric_mean(rets) * 100.0,
        max_trade_duration_hours=_round_up(max(held), unit) / 3600.0 if held else NAN,
        avg_trade_duration_hours=_round_up(math.fsum(held) / n_trades, unit) / 3600.0 if n_trades else NAN,
        profit_factor=_div(math.fsum(r for r in rets if r > 0), abs(math.fsum(r for r in rets if r < 0))),
        expectancy_pct=math.fsum(rets) / n_trades * 100.0 if n_trades else NAN,
        sqn=_div(math.sqrt(n_trades) * math.fsum(pnls) / n_trades, pnl_std) if n_trades else NAN,
    )
