"""`coinswarm backtest --plot FILE.png`: one static figure of a backtest (matplotlib, imported only here).

Contract: `plot_analysis(analysis, path)` writes a PNG with one price panel per symbol (at most
`MAX_PRICE_PANELS`; entries as small green ticks, exits coloured by reason), the equity against
buy-and-hold, and the drawdown. Markers shrink and fade as trades grow, so hundreds stay legible.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coinswarm.backtest.analysis import Analysis
from coinswarm.backtest.html_report import REASON_COLORS

MAX_PRICE_PANELS = 4


def _times(ts: list[int]) -> Any:
    return [datetime.fromtimestamp(t, UTC) for t in ts]


def _marker_size(trades: int) -> tuple[float, float]:
    """Marker area and opacity: large and solid for a few trades, small and light for many."""
    if trades <= 40:
        return 36.0, 0.95
    if trades <= 200:
        return 18.0, 0.8
    return 8.0, 0.55


def plot_analysis(a: Analysis, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = a.prices[:MAX_PRICE_PANELS]
    rows = len(panels) + 2
    ratios = [2.2] * len(panels) + [2.2, 1.2]
    fig, axes = plt.subplots(rows, 1, figsize=(13, 2.3 * rows + 1), dpi=110, sharex=True, height_ratios=ratios)
    times = _times(a.ts)
    for ax, p in zip(axes, panels, strict=False):
        trades = [t for t in a.trades if t.symbol == p.symbol]
        size, alpha = _marker_size(len(trades))
        ax.plot(times, p.close, color="#1f4e79", linewidth=0.8)
        ax.scatter(
            _times([t.entry_ts for t in trades]),
            [t.entry_price for t in trades],
            marker="^",
            s=size,
            color="#2e7d32",
            alpha=alpha,
            linewidths=0,
            label=f"entry ({len(trades)})",
            zorder=3,
        )
        for reason in sorted({t.exit_reason for t in trades}):
            own = [t for t in trades if t.exit_reason == reason]
            ax.scatter(
                _times([t.exit_ts for t in own]),
                [t.exit_price for t in own],
                marker="v",
                s=size,
                color=REASON_COLORS.get(reason, "#c62828"),
                alpha=alpha,
                linewidths=0,
                label=f"exit: {reason} ({len(own)})",
                zorder=3,
            )
        ax.set_ylabel(p.symbol)
        ax.grid(alpha=0.25)
        ax.legend(loc="upper left", fontsize=7, ncol=4, framealpha=0.8)
    eq_ax, dd_ax = axes[len(panels)], axes[len(panels) + 1]
    eq_ax.plot(times, a.equity, color="#1f4e79", linewidth=1.0, label="strategy")
    eq_ax.plot(times, a.buy_hold, color="#9e9e9e", linewidth=1.0, label="buy & hold")
    eq_ax.set_ylabel("equity")
    eq_ax.grid(alpha=0.25)
    eq_ax.legend(loc="upper left", fontsize=8)
    dd_ax.fill_between(times, a.drawdown_pct, 0, color="#c62828", alpha=0.3, linewidth=0)
    dd_ax.plot(times, a.drawdown_pct, color="#c62828", linewidth=0.7)
    dd_ax.set_ylabel("drawdown %")
    dd_ax.grid(alpha=0.25)
    s = a.stats
    more = f" (first {MAX_PRICE_PANELS} symbols shown)" if len(a.prices) > MAX_PRICE_PANELS else ""
    fig.suptitle(
        f"{a.strategy} on {', '.join(a.symbols)}{more} · return {s.return_pct:+.2f} % "
        f"(buy & hold {s.buy_hold_return_pct:+.2f} %) · max DD {s.max_drawdown_pct:.2f} % · {s.trades} trades",
        fontsize=11,
    )
    fig.autofmt_xdate()
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
