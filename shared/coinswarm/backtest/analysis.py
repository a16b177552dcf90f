"""Everything a trader reads about one backtest, computed once from its bars, equity and fills.

Contract: `analyse(...)` returns an `Analysis`: the statistics of the whole account (`stats.py`, as
backtesting.py defines them), the same statistics per symbol, the closed trades, the exit reasons, the
months, and an equal-weight buy-and-hold curve over the same bars. The text report, the HTML report,
the figure and `--json` all read this one object.

- Per-symbol figures value a symbol alone: an equal share of the starting cash, the symbol's own fills
  (fees included) and its position at each close. With one symbol they are the account's figures.
- Buy-and-hold: the starting cash split equally over the symbols, each bought at its first close and
  held; its return is the mean of the symbols' returns.
- A fill at time t counts from the bar that closes after t; the last bar counts every fill (the
  backtest's final exit happens at the last close).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from coinswarm.backtest.stats import Stats, compute_stats
from coinswarm.backtest.trades import ClosedTrade, Month, closed_trades, exit_reason_counts, monthly, trade_stats
from coinswarm.domain.models import Fill, Side


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """One symbol's closes on the account's bars (carried forward over the symbol's gaps)."""

    symbol: str
    close: list[float]


@dataclass(frozen=True)
class Analysis:
    strategy: str
    start_equity: float
    ts: list[int]  # each bar's close time
    equity: list[float]
    buy_hold: list[float]
    prices: list[PriceSeries]
    trades: list[ClosedTrade]
    stats: Stats
    per_symbol: dict[str, Stats]
    months: list[Month]
    exit_reasons: dict[str, int]
    fees: float
    drawdown_pct: list[float] = field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        return [p.symbol for p in self.prices]


def symbol_equity(ts: Sequence[int], close: Sequence[float], fills: Sequence[Fill], cash: float) -> list[float]:
    """The value of `cash` traded by `fills` alone, at every close."""
    out: list[float] = []
    held, i, n = 0.0, 0, len(fills)
    last = len(ts) - 1
    for k, (bar_ts, c) in enumerate(zip(ts, close, strict=True)):
        while i < n and (fills[i].ts < bar_ts or k == last):
            f = fills[i]
            if f.side is Side.BUY:
                cash -= f.quantity * f.price + f.fee
                held += f.quantity
            else:
                cash += f.quantity * f.price - f.fee
                held = max(0.0, held - f.quantity)
            i += 1
        out.append(cash + held * c)
    return out


def buy_and_hold(prices: Sequence[PriceSeries], start_equity: float, first_bar: int = 0) -> list[float]:
    share = start_equity / len(prices)
    units = [share / p.close[first_bar] for p in prices]
    n = len(prices[0].close)
    return [sum(u * p.close[k] for u, p in zip(units, prices, strict=True)) for k in range(n)]


def _drawdown_pct(equity: Sequence[float]) -> list[float]:
    out, peak = [], float("-inf")
    for e in equity:
        peak = max(peak, e)
        out.append((e / peak - 1.0) * 100.0)
    return out


def analyse(
    *,
    strategy: str,
    start_equity: float,
    ts: Sequence[int],
    equity: Sequence[float],
    prices: Sequence[PriceSeries],
    fills: Sequence[Fill],
    votes_by_order: Mapping[str, str] | None = None,
    first_trading_bar: int = 0,
) -> Analysis:
    if not prices:
        raise ValueError("a backtest analysis needs the prices of at least one symbol")
    ts, equity = list(ts), list(equity)
    trades = closed_trades(fills, votes_by_order)
    bh = buy_and_hold(prices, start_equity, first_trading_bar)
    stats = compute_stats(ts, equity, bh, trade_stats(trades, ts), first_trading_bar=first_trading_bar)
    per_symbol: dict[str, Stats] = {}
    share = start_equity / len(prices)
    for p in prices:
        own = [f for f in fills if f.symbol == p.symbol]
        own_trades = [t for t in trades if t.symbol == p.symbol]
        per_symbol[p.symbol] = compute_stats(
            ts,
            symbol_equity(ts, p.close, own, share) if len(prices) > 1 else equity,
            p.close,
            trade_stats(own_trades, ts),
            first_trading_bar=first_trading_bar,
        )
    return Analysis(
        strategy=strategy,
        start_equity=start_equity,
        ts=ts,
        equity=equity,
        buy_hold=bh,
        prices=list(prices),
        trades=trades,
        stats=stats,
        per_symbol=per_symbol,
        months=monthly(ts, equity, trades, start_equity),
        exit_reasons=exit_reason_counts(trades),
        fees=sum(f.fee for f in fills),
        drawdown_pct=_drawdown_pct(equity),
    )
