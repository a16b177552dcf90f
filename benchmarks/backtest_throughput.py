"""Backtest throughput: `run_backtest` over the benchmark series (500,000 bars by default), for the
sma-cross reference and for the configured committee, without exit rules and with a stop-loss, an ROI
table and a trailing stop (which must cost at most EXITS_MAX_SLOWDOWN more); plus what loading that many
bars from a CSV file costs, measured apart from the backtest.

Only the `run_backtest` call is timed (it builds the app, replays every bar through the fused stages,
closes the position at the end and computes the metrics). The settings are Coinswarm's defaults
(`Settings()`, not a configuration file) with no exit rules (the default stop-loss off) for the committee
and the rules of COMMITTEE_EXITS for its second run, except for sma-cross, whose run the backtesting.py comparison
reuses: no fees and no slippage (with 20 bps a 10/20 cross on five-minute bars spends the whole account
on fees long before the end, and the two engines then stop trading at different points), a starting
cash of 1e9 (backtesting.py buys whole units), and agents that see through the files' gaps (as
backtesting.py does) so both engines trade the same bars.
"""

from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from coinswarm.backtest.engine import BacktestOptions, run_backtest
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle
from coinswarm.marketdata.candle_files import load_candles, write_candles

from .series import Series

TARGET_BARS = 500_000
TARGET_COMMITTEE_BARS_S = 60_000  # the committee on one core (issue 15): TARGET_BARS bars in about 8 s
EXITS_MAX_SLOWDOWN = 0.10  # the committee with exit rules, against the committee without
EXITS_COST_BARS = 100_000  # the exits' cost: the committee without and with them, alternately, on this many bars
EXITS_COST_REPEATS = 5  # ... this many times each; the least CPU time of each counts (3 left a 15 % spread)
SEE_THROUGH_GAPS = 1_000_000

SMA_CROSS_CASH = 1e9  # so that backtesting.py's whole units stay fine-grained as the equity falls
SMA_CROSS = BacktestOptions(
    strategy="sma-cross",
    fast=10,
    slow=20,
    cash=SMA_CROSS_CASH,
    fee_bps=0.0,
    slippage_bps=0.0,
    max_gap=SEE_THROUGH_GAPS,
)
COMMITTEE = BacktestOptions(strategy="committee", exits={"stop_loss_pct": None})
COMMITTEE_EXITS = BacktestOptions(
    strategy="committee",
    exits={
        "stop_loss_pct": 5.0,
        "roi": {"0": 6.0, "60": 3.0, "240": 1.0},
        "trailing_stop_pct": 2.0,
        "trailing_offset_pct": 3.0,
        "trailing_only_offset_reached": True,
    },
)
EXITS_LABEL = "+exits"


@dataclass(frozen=True)
class Run:
    strategy: str
    bars: int
    seconds: float
    trades: int
    fills: int
    final_equity: float
    start_equity: float
    cpu_seconds: float = 0.0  # this process's CPU time over the same span (steadier on a shared machine)

    @property
    def bars_per_s(self) -> float:
        return self.bars / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_per_target(self) -> float:
        """The time scaled to TARGET_BARS bars (the same figure when that many were replayed)."""
        return self.seconds * TARGET_BARS / self.bars


@dataclass(frozen=True)
class CsvTimes:
    bars: int
    megabytes: float
    write_s: float
    load_s: float


def run_strategy(candles: list[Candle], opts: BacktestOptions, label: str = "") -> Run:
    settings = Settings()
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = run_backtest(candles, settings, opts, label="benchmark")
    # The engine pauses the cyclic collector while it replays; a full collection afterwards is timed
    # too, so the figure includes every cost of the run (bt.run() is timed the same way).
    gc.collect()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    m = result.metrics
    name = opts.strategy + label
    return Run(name, m.bars, seconds, m.trades, len(result.fills), m.final_equity, m.start_equity, cpu_seconds)


@dataclass(frozen=True)
class ExitsCost:
    bars: int
    without_s: list[float]  # CPU seconds of each run without exit rules
    with_s: list[float]  # ... and with them

    @property
    def slower(self) -> float:
        """How much more CPU time the exit rules take, the least of each side's runs compared."""
        return min(self.with_s) / min(self.without_s) - 1.0


def exits_cost(candles: list[Candle]) -> ExitsCost:
    """The committee without and with exit rules, alternately, timed in CPU seconds: on a machine that other
    work shares, two single runs' wall clocks differ by more than the rules cost, and the least of a few
    runs is the steadiest figure of what the code itself takes."""
    part = candles[:EXITS_COST_BARS]
    cost = ExitsCost(len(part), [], [])
    for _ in range(EXITS_COST_REPEATS):
        for opts, times in ((COMMITTEE, cost.without_s), (COMMITTEE_EXITS, cost.with_s)):
            times.append(run_strategy(part, opts).cpu_seconds)
    return cost


def csv_times(candles: list[Candle]) -> CsvTimes:
    """Write the series as a plain CSV in a temporary folder, then time `load_candles` on it."""
    name = candles[0].symbol.replace("-", "_") + "-5m.csv"
    with tempfile.TemporaryDirectory(prefix="coinswarm-bench-") as folder:
        path = Path(folder) / name
        started = time.perf_counter()
        write_candles(path, candles)
        write_s = time.perf_counter() - started
        size = path.stat().st_size / 1e6
        started = time.perf_counter()
        loaded = load_candles(path)
        load_s = time.perf_counter() - started
    if len(loaded.candles) != len(candles):
        raise AssertionError(f"wrote {len(candles)} candles, loaded {len(loaded.candles)}")
    return CsvTimes(len(candles), size, write_s, load_s)


def report(series: Series, runs: list[Run], csv: CsvTimes | None, cost: ExitsCost | None = None) -> bool:
    """Print the block; True when the committee target is met (or the committee did not run)."""
    print("== backtest throughput " + "=" * 77)
    print(f"data       {series.description}")
    if series.synthetic:
        print(f"           generated in {series.build_s:.2f} s")
    else:
        rate = series.file_bars / series.load_s if series.load_s else 0.0
        print(
            f"           {series.files} gzipped CSV files, {series.file_bars:,} bars, loaded in {series.load_s:.2f} s "
            f"({rate:,.0f} bars/s); stitched in {series.build_s:.2f} s"
        )
    if csv is not None:
        print(
            f"CSV load   the {csv.bars:,}-bar series as one plain CSV ({csv.megabytes:.0f} MB): load_candles "
            f"{csv.load_s:.2f} s ({csv.bars / csv.load_s:,.0f} bars/s); writing it took {csv.write_s:.2f} s"
        )
    print(f"{'':11}{'strategy':<17}{'bars':>10}{'seconds':>10}{'bars/s':>10}{'trades':>9}{'fills':>9}{'return':>11}")
    for r in runs:
        ret = (r.final_equity / r.start_equity - 1.0) * 100.0
        print(
            f"{'':11}{r.strategy:<17}{r.bars:>10,}{r.seconds:>10.2f}{r.bars_per_s:>10,.0f}"
            f"{r.trades:>9,}{r.fills:>9,}{ret:>10.2f}%"
        )
    print(
        f"{'':11}(sma-cross: fast 10, slow 20, no fees or slippage, cash {SMA_CROSS_CASH:,.0f}; "
        "committee: default settings, no exit rules; committee+exits: stop-loss 5 %, ROI 6/3/1 % from 0/60/240 min, "
        "trailing 2 % from +3 %)"
    )
    committee = next((r for r in runs if r.strategy == "committee"), None)
    if committee is None:
        return True
    met = committee.bars_per_s >= TARGET_COMMITTEE_BARS_S
    scaled = "" if committee.bars == TARGET_BARS else f", scaled from {committee.bars:,} bars"
    cpu = committee.bars / committee.cpu_seconds if committee.cpu_seconds else 0.0
    print(
        f"target     committee >= {TARGET_COMMITTEE_BARS_S:,} bars/s on one core: {committee.bars_per_s:,.0f} bars/s "
        f"({committee.seconds_per_target:.1f} s for {TARGET_BARS:,} bars{scaled}; {cpu:,.0f} bars per CPU second) "
        f"-> {'PASS' if met else 'MISS'}"
    )
    if cost is not None:
        cheap = cost.slower <= EXITS_MAX_SLOWDOWN
        runs_s = ", ".join(f"{w:.2f}/{e:.2f}" for w, e in zip(cost.without_s, cost.with_s, strict=True))
        print(
            f"target     committee with exit rules <= {EXITS_MAX_SLOWDOWN:.0%} slower than without "
            f"(CPU s over {cost.bars:,} bars, without/with, alternately: {runs_s}): "
            f"{cost.slower:+.1%} -> {'PASS' if cheap else 'MISS'}"
        )
        met = met and cheap
    return met
