"""The backtest report a trader reads in a terminal, and its `--json` form.

Contract: `text_report(analysis)` is plain text no wider than `WIDTH` columns: the summary block, the
strategy against buy-and-hold, a per-symbol table, an exit-reason table and a monthly table.
`analysis_json(analysis)` holds the same figures under the keys `coinswarm backtest --json` documents;
an undefined figure (a Sharpe without daily returns, a profit factor without a losing trade) is null.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from coinswarm.backtest.analysis import Analysis
from coinswarm.backtest.stats import Stats

WIDTH = 100
MAX_MONTH_ROWS = 24

STAT_KEYS = (
    "return_pct",
    "buy_hold_return_pct",
    "cagr_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "max_drawdown_duration_days",
    "exposure_pct",
    "trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "max_trade_duration_hours",
    "avg_trade_duration_hours",
    "profit_factor",
    "expectancy_pct",
    "sqn",
)


def _clean(x: float | int) -> float | int | None:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return round(x, 6) if isinstance(x, float) else x


def stats_json(s: Stats) -> dict[str, Any]:
    d = asdict(s)
    return {k: _clean(d[k]) for k in STAT_KEYS}


def analysis_json(a: Analysis) -> dict[str, Any]:
    """The report's figures for `--json` (added to the keys a backtest always had)."""
    return {
        **stats_json(a.stats),
        "fees": round(a.fees, 8),
        "exit_reasons": a.exit_reasons,
        "per_symbol": [{"symbol": sym, **stats_json(s)} for sym, s in a.per_symbol.items()],
        "monthly": {m.month: {"return_pct": round(m.return_pct, 6), "trades": m.trades} for m in a.months},
        "trade_list": [t.to_json() for t in a.trades],
    }


def _f(x: float, fmt: str = "{:+.2f}", none: str = "-") -> str:
    """A figure for people: `none` where undefined, three significant digits where huge."""
    if isinstance(x, float) and not math.isfinite(x):
        return none
    if abs(x) >= 1e6:
        return f"{x:.3g}" + (fmt.rsplit("}", 1)[1] if "}" in fmt else "")
    return fmt.format(x)


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _strategy(a: Analysis) -> str:
    """The strategy and its symbols in the summary's 30 columns: a portfolio too long to list there is
    counted (the Summary heading and the per-symbol table name every symbol)."""
    named = f"{a.strategy} on {', '.join(a.symbols)}"
    return named if len(named) <= 30 else f"{a.strategy} on {len(a.symbols)} symbols"[:30]


def _heading(a: Analysis) -> str:
    named = f"Summary: {a.strategy} on {', '.join(a.symbols)}"
    return named if len(named) <= WIDTH else f"Summary: {a.strategy} on {len(a.symbols)} symbols"


def _summary(a: Analysis) -> list[str]:
    s = a.stats
    left = [
        ("Period", f"{_day(s.start_ts)} .. {_day(s.end_ts)}"),
        ("Strategy", _strategy(a)),
        ("Equity", f"{a.start_equity:,.2f} -> {s.equity_final:,.2f}"),
        ("Return", _f(s.return_pct, "{:+.2f} %")),
        ("CAGR", _f(s.cagr_pct, "{:+.2f} %")),
        ("Return (ann.)", _f(s.return_ann_pct, "{:+.2f} %")),
        ("Volatility (ann.)", _f(s.volatility_ann_pct, "{:.2f} %")),
        ("Sharpe", _f(s.sharpe, "{:.2f}")),
        ("Sortino", _f(s.sortino, "{:.2f}")),
        ("Calmar", _f(s.calmar, "{:.2f}")),
        ("Max drawdown", _f(s.max_drawdown_pct, "{:.2f} %")),
        ("Avg drawdown", _f(s.avg_drawdown_pct, "{:.2f} %")),
        ("Max DD duration", _f(s.max_drawdown_duration_days, "{:.1f} days")),
    ]
    right = [
        ("Trades", str(s.trades)),
        ("Win rate", _f(s.win_rate_pct, "{:.1f} %")),
        ("Best trade", _f(s.best_trade_pct, "{:+.2f} %")),
        ("Worst trade", _f(s.worst_trade_pct, "{:+.2f} %")),
        ("Avg trade", _f(s.avg_trade_pct, "{:+.2f} %")),
        ("Max trade duration", _f(s.max_trade_duration_hours, "{:.1f} h")),
        ("Avg trade duration", _f(s.avg_trade_duration_hours, "{:.1f} h")),
        ("Profit factor", _f(s.profit_factor, "{:.2f}")),
        ("Expectancy", _f(s.expectancy_pct, "{:+.2f} %")),
        ("SQN", _f(s.sqn, "{:.2f}")),
        ("Exposure", _f(s.exposure_pct, "{:.1f} %")),
        ("Fees paid", f"{a.fees:,.2f}"),
        ("", ""),
    ]
    lines = []
    for (k1, v1), (k2, v2) in zip(left, right, strict=True):
        lines.append(f"  {k1:<18} {v1:<30} {k2:<19} {v2}".rstrip())
    return lines


def _versus(a: Analysis) -> list[str]:
    s = a.stats
    edge = s.return_pct - s.buy_hold_return_pct
    hold = " (equal weights)" if len(a.prices) > 1 else ""
    return [
        f"  Strategy {_f(s.return_pct, '{:+.2f} %')} against buy-and-hold{hold} "
        f"{_f(s.buy_hold_return_pct, '{:+.2f} %')}: {'ahead' if edge >= 0 else 'behind'} by {abs(edge):.2f} points"
    ]


def _per_symbol(a: Analysis) -> list[str]:
    head = (
        f"  {'symbol':<10} {'return %':>9} {'B&H %':>9} {'max DD %':>9} {'sharpe':>7} {'trades':>7} "
        f"{'win %':>6} {'PF':>6} {'avg trade %':>12} {'exposure %':>11}"
    )
    rows = [head]
    for sym, s in a.per_symbol.items():
        rows.append(
            f"  {sym:<10} {_f(s.return_pct):>9} {_f(s.buy_hold_return_pct):>9} {_f(s.max_drawdown_pct, '{:.2f}'):>9} "
            f"{_f(s.sharpe, '{:.2f}'):>7} {s.trades:>7} {_f(s.win_rate_pct, '{:.1f}'):>6} "
            f"{_f(s.profit_factor, '{:.2f}'):>6} {_f(s.avg_trade_pct):>12} {_f(s.exposure_pct, '{:.1f}'):>11}"
        )
    return rows


def _exit_reasons(a: Analysis) -> list[str]:
    if not a.trades:
        return ["  no closed trades"]
    rows = [f"  {'exit reason':<16} {'trades':>7} {'share %':>8} {'win %':>6} {'avg P&L %':>10} {'total P&L':>12}"]
    for reason, count in a.exit_reasons.items():
        ts = [t for t in a.trades if t.exit_reason == reason]
        wins = sum(1 for t in ts if t.pnl > 0)
        rows.append(
            f"  {reason:<16} {count:>7} {100 * count / len(a.trades):>8.1f} {100 * wins / count:>6.1f} "
            f"{sum(t.pnl_pct for t in ts) / count:>+10.2f} {sum(t.pnl for t in ts):>+12,.2f}"
        )
    return rows


def _monthly(a: Analysis) -> list[str]:
    months = a.months
    rows = [f"  {'month':<8} {'return %':>9} {'trades':>7}   {'':<50}"]
    shown = months[-MAX_MONTH_ROWS:]
    if len(months) > len(shown):
        rows.append(f"  ({len(months) - len(shown)} earlier months in --json and the HTML report)")
    scale = max((abs(m.return_pct) for m in shown), default=0.0) or 1.0
    for m in shown:
        bar = ("+" if m.return_pct >= 0 else "-") * round(25 * abs(m.return_pct) / scale)
        rows.append(f"  {m.month:<8} {m.return_pct:>+9.2f} {m.trades:>7}   {bar}")
    return [r.rstrip() for r in rows]


def text_report(a: Analysis) -> str:
    rule = "-" * WIDTH
    parts = [
        rule,
        _heading(a),
        *_summary(a),
        "",
        *_versus(a),
        rule,
        "Per symbol",
        *_per_symbol(a),
        rule,
        "Exit reasons",
        *_exit_reasons(a),
        rule,
        "Monthly",
        *_monthly(a),
        rule,
    ]
    return "\n".join(line[:WIDTH] for line in parts) + "\n"
