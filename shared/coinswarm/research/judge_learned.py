"""Does the learned agent help? The committee with it, without it, and buy-and-hold, out of sample only.

Contract: `judge(files, settings, ...)` groups the candle files by candle length and overlapping
period (files of one group share a time grid and one model per fold), makes walk-forward folds over
each group's grid (`coinswarm.research.folds`, purge = the label horizon, plus an embargo), and for
every fold:

1. trains the model on the fold's training samples only (`coinswarm.learning.training`);
2. backtests each file's test window twice with the configured committee: as configured, and with
   `learned` added at `weight` reading that fold's model; and values buy-and-hold over the same
   window (bought at the first close and sold at the last, paying the paper fee both ways).

Nothing is judged on a candle a model was trained on (the agent itself abstains on such a candle).
The test windows of one file are chained: the per-file figures are the compounded return, the
Sharpe ratio of the chained per-bar returns (annualised), the maximum drawdown of the chained equity
and the trades summed. The total is the mean over files of each figure (trades: the sum).
Each window's backtest starts flat with fresh agents, so every variant warms up the same way.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coinswarm.backtest.engine import BacktestOptions, run_backtest
from coinswarm.backtest.metrics import max_drawdown_pct, sharpe
from coinswarm.config.settings import Settings
from coinswarm.learning.training import Sample, fit_artifact, samples, split, time_grid
from coinswarm.marketdata.candle_files import CandleFile
from coinswarm.research.folds import FoldError, walk_forward

VARIANTS = ("committee", "committee+learned", "buy-and-hold")


@dataclass
class Chained:
    """One file's test windows, one variant, chained end to end."""

    equity: list[float] = field(default_factory=lambda: [1.0])
    trades: int = 0
    timeframe_s: int = 60

    def add(self, curve: Sequence[float], trades: int) -> None:
        if not curve or curve[0] <= 0:
            return
        base = self.equity[-1] / curve[0]
        self.equity.extend(e * base for e in curve[1:])
        self.trades += trades

    def figures(self) -> dict[str, float]:
        return {
            "return_pct": (self.equity[-1] / self.equity[0] - 1.0) * 100.0,
            "sharpe": sharpe(self.equity, self.timeframe_s),
            "max_drawdown_pct": max_drawdown_pct(self.equity),
            "trades": float(self.trades),
        }


@dataclass
class Judgement:
    per_file: dict[str, dict[str, dict[str, float]]]  # symbol -> variant -> figures
    total: dict[str, dict[str, float]]  # variant -> mean figures
    folds: list[dict[str, Any]]  # per group and fold: the window and the model's out-of-sample metrics
    learned_votes: int = 0  # candles on which the learned agent voted (did not abstain)
    notes: list[str] = field(default_factory=list)


def groups(files: Sequence[CandleFile]) -> list[list[CandleFile]]:
    """Files of one candle length whose periods overlap (transitively) form a group."""
    out: list[list[CandleFile]] = []
    for f in sorted(files, key=lambda f: (f.timeframe_s, f.candles[0].ts)):
        last = out[-1] if out else None
        if (
            last is not None
            and last[0].timeframe_s == f.timeframe_s
            and f.candles[0].ts <= max(g.candles[-1].ts for g in last)
        ):
            last.append(f)
        else:
            out.append([f])
    return out


def judge(
    files: Sequence[CandleFile],
    settings: Settings,
    *,
    folds: int = 4,
    horizon: int = 12,
    embargo: int = 12,
    weight: float = 1.0,
    model_dir: str | Path | None = None,
    params: dict[str, Any] | None = None,
) -> Judgement:
    fee_bps = settings.paper.fee_bps
    chained: dict[str, dict[str, Chained]] = {}
    fold_rows: list[dict[str, Any]] = []
    notes: list[str] = []
    votes = 0
    with tempfile.TemporaryDirectory(prefix="coinswarm-judge-") as tmp:
        where = Path(model_dir or tmp)
        for g, group in enumerate(groups(files)):
            tf = group[0].timeframe_s
            pooled: list[Sample] = []
            for f in group:
                pooled.extend(samples(f.candles, horizon, fee_bps))
            grid = time_grid(pooled)
            try:
                made = walk_forward(len(grid), folds=folds, purge=horizon, embargo=embargo, min_train=50)
            except FoldError as exc:
                notes.append(f"{', '.join(f.symbol for f in group)}: not judged ({exc})")
                continue
            for fold in made:
                train_set, _ = split(pooled, grid, fold, tf, horizon)
                if len(train_set) < 50:
                    notes.append(f"group {g} fold {fold.index}: {len(train_set)} training samples, skipped")
                    continue
                artifact = fit_artifact(train_set, timeframe_s=tf, horizon=horizon, fee_bps=fee_bps, params=params)
                model = artifact.write(where / f"group{g}-fold{fold.index}.json")
                start, end = grid[fold.test.start], grid[fold.test.stop - 1]
                fold_rows.append(
                    {
                        "group": g,
                        "fold": fold.index,
                        "test_start": start,
                        "test_end": end,
                        "train_end": artifact.train_end,
                    }
                )
                with_learned = _with_learned(settings, model, weight)
                for f in group:
                    window = [c for c in f.candles if start <= c.ts <= end]
                    if len(window) < 2:
                        continue
                    per = chained.setdefault(f.symbol, {v: Chained(timeframe_s=tf) for v in VARIANTS})
                    base = run_backtest(window, settings, BacktestOptions())
                    per["committee"].add(base.equity, base.metrics.trades)
                    learned = run_backtest(window, with_learned, BacktestOptions())
                    per["committee+learned"].add(learned.equity, learned.metrics.trades)
                    per["buy-and-hold"].add(_buy_and_hold(window, fee_bps), 1)
                    votes += _learned_votes(window, model)
    per_file = {s: {v: c.figures() for v, c in by.items()} for s, by in chained.items()}
    total: dict[str, dict[str, float]] = {}
    for v in VARIANTS:
        rows = [per_file[s][v] for s in per_file]
        if rows:
            total[v] = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
            total[v]["trades"] = sum(r["trades"] for r in rows)
    return Judgement(per_file, total, fold_rows, votes, notes)


def _with_learned(settings: Settings, model: Path, weight: float) -> Settings:
    data = settings.model_dump()
    data["committee"]["weights"] = {**data["committee"]["weights"], "learned": weight}
    data["agents"] = {**data.get("agents", {}), "learned": {"model": str(model), "max_age_days": 3650.0}}
    return Settings.model_validate(data)


def _buy_and_hold(window: Sequence[Any], fee_bps: float) -> list[float]:
    """Bought at the first close, valued at each close, sold at the last; the fee paid both ways."""
    fee = fee_bps / 1e4
    first = window[0].close
    curve = [1.0] + [(1.0 - fee) * c.close / first for c in window[1:]]
    curve[-1] *= 1.0 - fee
    return curve


def _learned_votes(window: Sequence[Any], model: Path) -> int:
    from coinswarm.domain.agents.learned import LearnedAgent

    agent = LearnedAgent(model=str(model), max_age_days=3650.0)
    return sum(1 for c in window if agent.observe(c).confidence > 0.0)


def table(j: Judgement) -> str:
    """The judgement as a plain-text table: per file and in total, each variant's figures."""
    head = f"{'file':<14} {'variant':<18} {'return %':>9} {'Sharpe':>8} {'max DD %':>9} {'trades':>7}"
    lines = [head, "-" * len(head)]
    for name, by in [*sorted(j.per_file.items()), ("TOTAL (mean)", j.total)]:
        for v in VARIANTS:
            f = by.get(v)
            if f is None:
                continue
            lines.append(
                f"{name:<14} {v:<18} {f['return_pct']:>9.2f} {f['sharpe']:>8.2f} "
                f"{f['max_drawdown_pct']:>9.2f} {int(f['trades']):>7}"
            )
    return "\n".join(lines)


def isfinite_figures(j: Judgement) -> bool:
    return all(math.isfinite(x) for by in j.per_file.values() for f in by.values() for x in f.values())
