"""The end-of-session summary of `coinswarm run`, and the account figures `coinswarm status` shows."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coinswarm.cli.report import CycleReporter, money, price
from coinswarm.domain.portfolio import Portfolio
from coinswarm.ports.state import StateStore


@dataclass(frozen=True)
class AccountFigures:
    portfolio: Portfolio
    marks: dict[str, float]

    @property
    def equity(self) -> float:
        return self.portfolio.equity(self.marks)

    @property
    def unrealized(self) -> float:
        return self.portfolio.unrealized_pnl(self.marks)

    @property
    def realized(self) -> float:
        return self.portfolio.realized_pnl()

    @property
    def pnl(self) -> float:
        return self.equity - self.portfolio.deposited

    def to_json(self) -> dict[str, Any]:
        p = self.portfolio
        return {
            "cash": p.cash,
            "equity": self.equity,
            "deposited": p.deposited,
            "pnl": self.pnl,
            "realized_pnl": self.realized,
            "unrealized_pnl": self.unrealized,
            "fees": p.fees,
            "fills": p.fills,
            "positions": [
                {**pos.model_dump(mode="json"), "mark": self.marks.get(pos.symbol)}
                for pos in p.positions()
                if pos.quantity > 0
            ],
        }


def marks_for(state: StateStore, symbols: list[str], timeframe_s: int) -> dict[str, float]:
    """The newest stored close of each symbol."""
    out: dict[str, float] = {}
    for s in symbols:
        last = state.recent_candles(s, timeframe_s, 1)
        if last:
            out[s] = last[-1].close
    return out


def figures(portfolio: Portfolio, state: StateStore, symbols: list[str], timeframe_s: int) -> AccountFigures:
    wanted = sorted(set(symbols) | set(portfolio.holdings))
    return AccountFigures(portfolio, marks_for(state, wanted, timeframe_s))


def position_lines(fig: AccountFigures) -> list[str]:
    lines = []
    for pos in fig.portfolio.positions():
        if pos.quantity <= 0:
            continue
        mark = fig.marks.get(pos.symbol, pos.avg_cost)
        lines.append(
            f"  {pos.symbol:<9} {pos.quantity:>14.8g} avg {price(pos.avg_cost):>12} mark {price(mark):>12} "
            f"unrealized {pos.quantity * (mark - pos.avg_cost):+,.2f}"
        )
    return lines or ["  (no open positions)"]


def account_line(fig: AccountFigures) -> str:
    return (
        f"equity {money(fig.equity)} (start {money(fig.portfolio.deposited)}) · cash {money(fig.portfolio.cash)} · "
        f"P&L {fig.pnl:+,.2f} (realized {fig.realized:+,.2f}, unrealized {fig.unrealized:+,.2f}) · "
        f"fees {money(fig.portfolio.fees)}"
    )


def print_summary(
    app: Any, source: Any, reporter: CycleReporter, cycles: int, elapsed: float, path: Path, ended: str = ""
) -> None:
    """`ended`: how the session ended when it did not run to its end ("interrupted", "stopped by SIGTERM")."""
    settings = app.settings
    fig = figures(app.ledger.portfolio(), app.state, list(settings.symbols), settings.timeframe_s)
    pending = app.broker.pending() if hasattr(app.broker, "pending") else []
    cache = app.cache
    print()
    print(f"── session summary: {cycles} cycles in {elapsed:.1f} s{f' ({ended})' if ended else ''} ──")
    print(f"data        {source.market.label}")
    if settings.mode == "live":
        where = f" at {settings.live.venue_url}" if settings.live.venue_url else ""
        print(
            f"broker      LIVE on {settings.primary_venue.name}{where}, orders up to "
            f"{settings.live.max_order_notional:,.2f} each; pending orders are followed up at the next run"
        )
    print(
        f"orders      {reporter.orders} placed, {reporter.fills} filled, {len(pending)} pending, "
        f"{reporter.rejections} refused by risk, {reporter.venue_refusals} refused by the broker"
    )
    print(f"account     {account_line(fig)}")
    print("positions")
    for line in position_lines(fig):
        print(line)
    if cache is not None:
        print(
            f"pattern     cache {cache.hits} hits / {cache.misses} misses ({cache.hit_rate:.0%}), {len(cache)} states"
        )
    print(f"gaps        {len(reporter.gaps) or 'none'}")
    print(f"state file  {path}")
    me = command_name()
    print(f"next        {me} status --state {path}   ·   {me} ledger verify --state {path}")


def command_name() -> str:
    """How to type `coinswarm` again: plain when it is on the PATH, else the path it was run by
    (`.venv/bin/coinswarm` after `make run`)."""
    invoked = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("coinswarm")
    if invoked.name != "coinswarm" or shutil.which("coinswarm") == str(invoked.resolve()):
        return "coinswarm"
    try:
        return str(invoked.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(invoked)
