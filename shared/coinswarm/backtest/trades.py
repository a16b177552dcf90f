"""Closed trades rebuilt from fills, and the monthly view of an equity curve.

Contract: `closed_trades(fills)` pairs each symbol's fills from flat into a position and back to flat
(fills in time order, long only) into one `ClosedTrade`: volume-weighted entry and exit prices, the P&L
net of every fee, the P&L as a fraction of the entry notional (backtesting.py's `pl_pct`), and the exit
reason of the fill that closed it (`signal` where a sell carries none). A position still open at the
end is not a closed trade. `monthly(ts, equity, trades)` gives each calendar month (UTC) its return
from the previous month's last equity (the start equity for the first month) and its closed trades.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from coinswarm.backtest.stats import TradeStat
from coinswarm.domain.models import Fill, Side, iso

DUST = 1e-12


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    symbol: str
    entry_ts: int
    exit_ts: int
    entry_price: float
    exit_price: float
    quantity: float
    pnl: float
    return_frac: float
    fees: float
    exit_reason: str
    votes: str = ""  # the committee's votes at entry, where known

    @property
    def pnl_pct(self) -> float:
        return self.return_frac * 100.0

    @property
    def duration_hours(self) -> float:
        return (self.exit_ts - self.entry_ts) / 3600.0

    def to_json(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "entry_time": iso(self.entry_ts),
            "exit_time": iso(self.exit_ts),
            "entry_price": round(self.entry_price, 10),
            "exit_price": round(self.exit_price, 10),
            "quantity": round(self.quantity, 10),
            "pnl": round(self.pnl, 8),
            "pnl_pct": round(self.pnl_pct, 6),
            "fees": round(self.fees, 8),
            "duration_hours": round(self.duration_hours, 4),
            "exit_reason": self.exit_reason,
            "votes": self.votes,
        }


@dataclass
class _Open:
    entry_ts: int
    bought_qty: float = 0.0
    bought_cost: float = 0.0
    sold_qty: float = 0.0
    sold_value: float = 0.0
    held: float = 0.0
    fees: float = 0.0
    votes: str = ""


def closed_trades(fills: Sequence[Fill], votes_by_order: Mapping[str, str] | None = None) -> list[ClosedTrade]:
    """Each symbol's round trips, flat to flat, in the order they closed."""
    votes_by_order = votes_by_order or {}
    trades: list[ClosedTrade] = []
    open_: dict[str, _Open] = {}
    for f in fills:
        t = open_.get(f.symbol)
        if t is None:
            if f.side is Side.SELL:
                continue  # nothing held: no trade to close
            t = open_[f.symbol] = _Open(entry_ts=f.ts, votes=votes_by_order.get(f.client_order_id, ""))
        t.fees += f.fee
        if f.side is Side.BUY:
            t.bought_qty += f.quantity
            t.bought_cost += f.quantity * f.price
            t.held += f.quantity
            continue
        t.sold_qty += f.quantity
        t.sold_value += f.quantity * f.price
        t.held -= f.quantity
        if t.held > DUST * max(1.0, t.bought_qty):
            continue
        entry_price = t.bought_cost / t.bought_qty
        pnl = t.sold_value - t.bought_cost - t.fees
        trades.append(
            ClosedTrade(
                symbol=f.symbol,
                entry_ts=t.entry_ts,
                exit_ts=f.ts,
                entry_price=entry_price,
                exit_price=t.sold_value / t.sold_qty,
                quantity=t.bought_qty,
                pnl=pnl,
                return_frac=pnl / t.bought_cost if t.bought_cost else 0.0,
                fees=t.fees,
                exit_reason=str(f.exit_reason) if f.exit_reason else "signal",
                votes=t.votes,
            )
        )
        del open_[f.symbol]
    return trades


def bar_index(bars_ts: Sequence[int], ts: int) -> int:
    """The index of the last bar at or before `ts` (0 before the first)."""
    return max(0, bisect_right(bars_ts, ts) - 1)


def trade_stats(trades: Sequence[ClosedTrade], bars_ts: Sequence[int]) -> list[TradeStat]:
    """The trades as the statistics see them, placed on the bars of `bars_ts`."""
    return [
        TradeStat(
            entry_bar=bar_index(bars_ts, t.entry_ts),
            exit_bar=bar_index(bars_ts, t.exit_ts),
            entry_ts=t.entry_ts,
            exit_ts=t.exit_ts,
            pnl=t.pnl,
            return_frac=t.return_frac,
        )
        for t in trades
    ]


@dataclass(frozen=True, slots=True)
class Month:
    month: str  # "2024-03"
    return_pct: float
    trades: int


def _month(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m")


def monthly(
    bars_ts: Sequence[int], equity: Sequence[float], trades: Sequence[ClosedTrade], start_equity: float
) -> list[Month]:
    """Each UTC month with bars: its return from the previous month's last equity, and its closed trades."""
    ends: dict[str, float] = {}
    for ts, e in zip(bars_ts, equity, strict=True):
        ends[_month(ts)] = e
    closed: dict[str, int] = {}
    for t in trades:
        m = _month(t.exit_ts)
        closed[m] = closed.get(m, 0) + 1
    months: list[Month] = []
    before = start_equity
    for m, end in ends.items():
        months.append(Month(m, (end / before - 1.0) * 100.0 if before else 0.0, closed.get(m, 0)))
        before = end
    return months


def exit_reason_counts(trades: Sequence[ClosedTrade]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in trades:
        counts[t.exit_reason] = counts.get(t.exit_reason, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
