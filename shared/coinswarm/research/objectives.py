"""What `coinswarm optimize` maximises, from a window's backtest statistics (backtest/stats.py, as
backtesting.py defines them).

Contract: `score(name, figures, min_trades)` is the figure to maximise, or `WORST` when the window has
fewer than `min_trades` round trips or the figure is undefined (no trades, a flat curve): a parameter
set that does not trade can never win by doing nothing.

- sharpe, sortino, calmar: the annualised ratios of `Stats`;
- return_dd: the return (%) over the largest drawdown (% of the peak), the return when there was none;
- profit: the final equity less the starting cash, in the quote currency.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import get_args

from coinswarm.config.settings import Objective

NAMES: tuple[str, ...] = get_args(Objective)
WORST = -1e12  # optuna stores it like any value; dominated by every real figure


def _return_dd(f: Mapping[str, float]) -> float:
    dd = abs(f["max_drawdown_pct"])
    return f["return_pct"] / dd if dd > 0 else f["return_pct"]


FIGURE: dict[str, Callable[[Mapping[str, float]], float]] = {
    "sharpe": lambda f: f["sharpe"],
    "sortino": lambda f: f["sortino"],
    "calmar": lambda f: f["calmar"],
    "return_dd": _return_dd,
    "profit": lambda f: f["profit"],
}


def score(name: str, figures: Mapping[str, float], min_trades: int) -> float:
    if name not in FIGURE:
        raise ValueError(f"unknown objective {name!r}: use one of {', '.join(NAMES)}")
    if figures["trades"] < max(1, min_trades):
        return WORST
    value = FIGURE[name](figures)
    return value if math.isfinite(value) else WORST
