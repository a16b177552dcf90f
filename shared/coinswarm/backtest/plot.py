"""Draw a backtest's equity curve with its trades marked (matplotlib, imported only when asked)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coinswarm.domain.models import Side


def plot_equity(result: Any, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times: Any = [datetime.fromtimestamp(t, UTC) for t in result.ts]  # matplotlib takes datetimes
    by_ts = dict(zip(result.ts, result.equity, strict=True))
    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=110)
    ax.plot(times, result.equity, color="#1f4e79", linewidth=1.0, label="equity")
    for side, marker, color in ((Side.BUY, "^", "#2e7d32"), (Side.SELL, "v", "#c62828")):
        fills = [f for f in result.fills if f.side is side]
        xs: Any = [datetime.fromtimestamp(f.ts, UTC) for f in fills]
        ys = [by_ts.get(_bar_close(result, f.ts), result.equity[-1]) for f in fills]
        ax.scatter(xs, ys, marker=marker, color=color, s=28, zorder=3, label=f"{side.value} ({len(fills)})")
    m = result.metrics
    ax.set_title(
        f"{result.symbol} · {result.strategy} · return {m.return_pct:+.2f} % · max DD {m.max_drawdown_pct:.2f} % "
        f"· {m.trades} trades"
    )
    ax.set_ylabel("equity")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def _bar_close(result: Any, fill_ts: int) -> int:
    """A fill at a bar's open is marked on the equity of that bar's close."""
    return int(fill_ts + result.timeframe_s)
