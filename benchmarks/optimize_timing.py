"""The walk-forward search benchmark: `coinswarm optimize`'s search of the committee over 3 symbols x
--search-bars five-minute bars (default 100,000 each), 5 anchored folds, --search-trials trials in all
(default 200: 40 per fold), one trial process per core, on a temporary SQLite study.

Target (issue 15): at most 10 minutes and 1.5 GB on a 2-core machine. The three symbols are three
consecutive stretches of the stitched real series (series.py), laid on one time grid. `--profile`
also profiles one trial (the middle fold's train window, the default parameters) and prints where its
time goes: the trials are backtests, so the engine's speed is the search's.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle

from .series import backtest_series

SYMBOLS = ("AAA-BTC", "BBB-BTC", "CCC-BTC")
TARGET_S = 600.0
TRIALS = 200  # the target's search
TARGET_MB = 1_536.0


@dataclass(frozen=True)
class SearchRun:
    symbols: int
    bars: int
    folds: int
    trials: int
    workers: int
    seconds: float
    trained_bars: int  # bars backtested by the trials, every symbol counted
    cpu_s: float  # CPU time of this process and its trial processes: the wall time's floor on an idle machine
    parent_mb: float
    child_mb: float
    pss_mb: float  # the most this process and its trial processes held together (proportional set size), sampled
    description: str
    out_of_sample_return_pct: float


def market_series(bars: int) -> tuple[dict[str, list[Candle]], str]:
    series = backtest_series(bars * len(SYMBOLS))
    out: dict[str, list[Candle]] = {}
    start = series.candles[0].ts
    for i, symbol in enumerate(SYMBOLS):
        part = series.candles[i * bars : (i + 1) * bars]
        shift = part[0].ts - start
        out[symbol] = [c.model_copy(update={"symbol": symbol, "ts": c.ts - shift}) for c in part]
    description = series.description
    del series
    return out, f"{description}, split into {len(SYMBOLS)} symbols of {bars:,} bars on one time grid"


def settings(storage: str, trials_per_fold: int, folds: int, workers: int) -> Settings:
    return Settings.model_validate(
        {
            "optimize": {
                "storage": storage,
                "study": "bench",
                "trials": trials_per_fold,
                "folds": folds,
                "purge_bars": 12,
                "workers": workers,
                "seed": 1,
            }
        }
    )


def measure(bars: int = 100_000, trials: int = 200, folds: int = 5, workers: int = 0) -> SearchRun:
    from coinswarm.research.optimize import cores, folds_of, search
    from coinswarm.research.walkforward import market_from

    data, description = market_series(bars)
    market = market_from(data)
    del data  # the market holds its own lists of the candles
    workers = workers or cores()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = settings(f"sqlite:///{Path(tmp) / 'bench.db'}", max(1, trials // folds), folds, workers)
        cpu0 = _cpu()
        started = time.perf_counter()
        result = search(cfg, market, progress=_progress)
        seconds = time.perf_counter() - started
        cpu = _cpu() - cpu0
    print()
    trained = sum(
        len(f.train) * len(SYMBOLS) * o.trials for f, o in zip(folds_of(cfg, market), result.folds, strict=True)
    )
    return SearchRun(
        symbols=len(SYMBOLS),
        bars=bars,
        folds=len(result.folds),
        trials=sum(o.trials for o in result.folds),
        workers=workers,
        seconds=seconds,
        cpu_s=cpu,
        trained_bars=trained,
        pss_mb=_PEAK_PSS[0],
        parent_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        child_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        description=description,
        out_of_sample_return_pct=result.stitched.stats.return_pct,
    )


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


_PEAK_PSS = [0.0]


def _pss_mb() -> float:
    """This process's and its children's proportional set size: pages they share (the market, after the
    fork) counted once between them, unlike the resident sizes. 0 where /proc has no smaps_rollup."""
    import multiprocessing as mp

    total = 0.0
    for pid in [os.getpid(), *(p.pid for p in mp.active_children())]:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:")) / 1024
        except (OSError, StopIteration, ValueError):
            continue
    return total


def _progress(fold: int, folds: int, done: int, total: int, best: str) -> None:
    _PEAK_PSS[0] = max(_PEAK_PSS[0], _pss_mb())
    print(f"\r  fold {fold + 1}/{folds}: {done}/{total} trials · {best}\033[K", end="", flush=True)


def report(run: SearchRun) -> bool:
    peak = run.pss_mb or run.parent_mb + run.workers * run.child_mb
    rate = run.trained_bars / run.seconds / run.workers
    met = run.trials >= TRIALS and run.seconds <= TARGET_S and peak <= TARGET_MB
    print(f"== walk-forward search: {run.symbols} symbols x {run.bars:,} bars, {run.folds} folds, {run.trials} trials")
    print(f"  data: {run.description}")
    print(
        f"  {run.seconds:,.0f} s with {run.workers} trial processes ({run.trained_bars:,} bars backtested: "
        f"{rate:,.0f} bars/s per process)"
    )
    print(
        f"  memory: at most {run.pss_mb:,.0f} MB together (proportional set size, sampled each second); "
        f"resident peaks: this process {run.parent_mb:,.0f} MB, the largest trial process {run.child_mb:,.0f} MB "
        "(these count the market the trial processes share with this one once each)"
    )
    idle = run.cpu_s / run.workers
    print(
        f"  CPU time {run.cpu_s:,.0f} s: about {idle:,.0f} s on {run.workers} idle cores "
        f"({run.trained_bars / run.cpu_s:,.0f} bars/s per CPU second; the wall time above includes waiting "
        "for cores other programs held)"
    )
    if run.trials < TRIALS:
        scale = TRIALS / run.trials
        print(
            f"  {TRIALS} trials, in proportion: about {run.seconds * scale:,.0f} s as measured, "
            f"{idle * scale:,.0f} s on idle cores (an estimate: {run.trials} trials were run)"
        )
    print(f"  out-of-sample return of the search: {run.out_of_sample_return_pct:+.2f} %")
    print(
        f"  target: <= {TARGET_S / 60:.0f} min and <= {TARGET_MB / 1024:.1f} GB -> {'PASS' if met else 'MISS'}"
        + ("" if met else " (the trials are committee backtests: see --profile)")
    )
    return met


def profile(bars: int = 100_000, folds: int = 5, top: int = 14) -> str:
    """Where one trial's time goes: the middle fold's train window, the default parameters."""
    from coinswarm.research.optimize import folds_of
    from coinswarm.research.walkforward import evaluate, market_from

    data, _ = market_series(bars)
    market = market_from(data)
    cfg = settings("sqlite://", 1, folds, 1)
    fold = folds_of(cfg, market)[len(folds_of(cfg, market)) // 2]
    window = market.window(fold.train)
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    evaluate(cfg, window, cfg.paper.starting_cash)
    prof.disable()
    seconds = time.perf_counter() - started
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    n = sum(len(c) for c in window.values())
    body = "\n".join(line for line in out.getvalue().splitlines() if line.strip())
    return f"== one trial profiled: {n:,} bars in {seconds:.1f} s under the profiler\n{body}"
