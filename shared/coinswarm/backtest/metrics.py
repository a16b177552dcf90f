"""Performance figures of a backtest: return, drawdown, Sharpe, round trips, win rate, exposure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from coinswarm.domain.models import Fill, Side

YEAR_S = 365 * 86_400  # crypto trades every day of the year


@dataclass(frozen=True, slots=True)
class RoundTrip:
    symbol: str
    entry_ts: int
    exit_ts: int
    pnl: float  # net of every fee paid on the way in and out


def round_trips(fills: Sequence[Fill]) -> list[RoundTrip]:
    """Closed round trips: from flat into a position and back to flat, per symbol."""
    trips: list[RoundTrip] = []
    open_: dict[str, tuple[int, float, float]] = {}  # symbol -> (entry ts, quantity, cash flow so far)
    for f in fills:
        entry_ts, qty, flow = open_.get(f.symbol, (f.ts, 0.0, 0.0))
        if f.side is Side.BUY:
            qty += f.quantity
            flow -= f.quantity * f.price + f.fee
        else:
            qty -= f.quantity
            flow += f.quantity * f.price - f.fee
        if qty <= 1e-12 * max(1.0, f.quantity):
            trips.append(RoundTrip(f.symbol, entry_ts, f.ts, flow))
            open_.pop(f.symbol, None)
        else:
            open_[f.symbol] = (entry_ts, qty, flow)
    return trips


def max_drawdown_pct(equity: Sequence[float]) -> float:
    peak, worst = -math.inf, 0.0
    for e in equity:
        if e > peak:
            peak = e
        elif peak > 0:
            dd = (peak - e) / peak
            if dd > worst:
                worst = dd
    return worst * 100.0


def sharpe(equity: Sequence[float], timeframe_s: int) -> float:
    """Annualized Sharpe ratio of per-bar simple returns (risk-free rate 0, population std)."""
    if len(equity) < 3:
        return 0.0
    rets = [b / a - 1.0 for a, b in pairwise(equity) if a > 0]
    n = len(rets)
    mean = sum(rets) / n
    var = sum((r - mean) ** 2 for r in rets) / n
    if var <= 0.0:
        return 0.0
    return mean / math.sqrt(var) * math.sqrt(YEAR_S / timeframe_s)


@dataclass(frozen=True, slots=True)
class Metrics:
    bars: int
    trades: int
    start_equity: float
    final_equity: float
    return_pct: float
    max_drawdown_pct: float
    sharpe: float
    win_rate_pct: float
    exposure_pct: float
    fees: float


def compute(
    equity: Sequence[float],
    fills: Sequence[Fill],
    *,
    exposed_bars: int,
    timeframe_s: int,
    start_equity: float,
) -> Metrics:
    trips = round_trips(fills)
    wins = sum(1 for t in trips if t.pnl > 0)
    final = equity[-1] if equity else start_equity
    return Metrics(
        bars=len(equity),
        trades=len(trips),
        start_equity=start_equity,
        final_equity=final,
        return_pct=(final / start_equity - 1.0) * 100.0,
        max_drawdown_pct=max_drawdown_pct([start_equity, *equity]),
        sharpe=sharpe(equity, timeframe_s),
        win_rate_pct=100.0 * wins / len(trips) if trips else 0.0,
        exposure_pct=100.0 * exposed_bars / len(equity) if equity else 0.0,
        fees=sum(f.fee for f in fills),
    )
