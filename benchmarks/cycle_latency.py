"""Cycle latency: one trading cycle over three symbols on the embedded SQLite store (a temporary file),
with the paper broker, replayed synthetic candles and a simulated clock: no network.

The app is built as `coinswarm run` builds it (`build_app` with a ReplayMarketData, a SqliteStore and
a SimulatedClock, then a CycleRunner), and each `runner.run_cycle(ts)` at a candle close is timed with
perf_counter_ns. The first cycles are a warm-up and are not counted (the very first one also reads and
stores the warm-up history). Fused wiring runs the stages as direct calls; mesh wiring runs them as
the five local function handlers over the in-process bus, each message serialized as JSON.

Settings: the defaults (1-minute candles, BTC-USD, ETH-USD and SOL-USD, the committee of three agents,
risk limits, pattern cache) with a committee threshold of 0.45, so that some cycles place orders and
fill them (a cycle that trades costs more than one that holds; the count is printed).
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle, FillRecorded
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.ports.clock import SimulatedClock
from coinswarm.wiring.bootstrap import build_app
from coinswarm.wiring.runner import CycleRunner

SYMBOLS = {"BTC-USD": 60_000.0, "ETH-USD": 3_000.0, "SOL-USD": 150.0}
THRESHOLD = 0.45
SEED = 7
START_TS = 1_700_000_000 - 1_700_000_000 % 60
TARGET_FUSED_P50_MS = 5.0
Wiring = Literal["fused", "mesh"]


@dataclass(frozen=True)
class Latency:
    wiring: str
    samples_ns: list[int]
    warmup: int
    fills: int

    def pct_ms(self, p: float) -> float:
        """The p-th percentile (nearest rank) in milliseconds."""
        ordered = sorted(self.samples_ns)
        rank = max(1, math.ceil(p / 100.0 * len(ordered)))
        return ordered[rank - 1] / 1e6

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.samples_ns) / 1e6


def cycle_settings() -> Settings:
    data = Settings().model_dump()
    data.update(symbols=list(SYMBOLS), timeframe="1m")
    data["committee"]["threshold"] = THRESHOLD
    return Settings.model_validate(data)


def series(settings: Settings, bars: int) -> dict[str, list[Candle]]:
    tf = settings.timeframe_s
    return {
        symbol: synthetic_candles(symbol, bars, seed=SEED + i, start_ts=START_TS, timeframe_s=tf, start_price=price)
        for i, (symbol, price) in enumerate(SYMBOLS.items())
    }


def measure(wiring: Wiring, *, cycles: int, warmup: int, folder: Path) -> Latency:
    settings = cycle_settings()
    bars = settings.market.warmup_candles + warmup + cycles
    data = series(settings, bars)
    ends = sorted({c.close_ts for candles in data.values() for c in candles})
    times = ends[settings.market.warmup_candles - 1 :][: warmup + cycles]
    store = SqliteStore(folder / f"bench-{wiring}.db")
    clock = SimulatedClock(START_TS)
    app = build_app(
        settings, market=ReplayMarketData(data, label="SYNTHETIC benchmark series"), store=store, clock=clock
    )
    handlers = None
    if wiring == "mesh":
        from functions.local import local_handlers

        handlers = local_handlers(app)
    runner = CycleRunner(app, wiring=wiring, handlers=handlers, owner=f"bench-{wiring}")
    samples: list[int] = []
    clock_ns = time.perf_counter_ns
    try:
        for ts in times:
            clock.set(ts)
            started = clock_ns()
            runner.run_cycle(ts)
            samples.append(clock_ns() - started)
    finally:
        runner.release()
    fills = sum(1 for e in app.ledger.events() if isinstance(e.payload, FillRecorded))
    store.close()
    return Latency(wiring, samples[warmup:], warmup, fills)


def run(cycles: int, warmup: int) -> list[Latency]:
    with tempfile.TemporaryDirectory(prefix="coinswarm-bench-") as folder:
        return [measure(w, cycles=cycles, warmup=warmup, folder=Path(folder)) for w in ("fused", "mesh")]


def report(results: list[Latency]) -> bool:
    print("== cycle latency: 3 symbols, SQLite store (temp file), paper broker, no network " + "=" * 19)
    first = results[0]
    print(
        f"cycles     {len(first.samples_ns):,} timed per wiring after {first.warmup} warm-up cycles; "
        f"1-minute synthetic candles; committee threshold {THRESHOLD}"
    )
    heads = "".join(f"{h:>9}" for h in ("p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"))
    print(f"{'':11}{'wiring':<8}{heads}{'cycles/s':>10}  trading")
    for r in results:
        rate = 1e3 / r.mean_ms if r.mean_ms else 0.0
        print(
            f"{'':11}{r.wiring:<8}{r.pct_ms(50):>9.2f}{r.pct_ms(90):>9.2f}{r.pct_ms(99):>9.2f}"
            f"{max(r.samples_ns) / 1e6:>9.2f}{r.mean_ms:>9.2f}{rate:>10,.0f}  "
            f"{r.fills} fills in all cycles"
        )
    fused = next((r for r in results if r.wiring == "fused"), None)
    if fused is None:
        return True
    met = fused.pct_ms(50) <= TARGET_FUSED_P50_MS
    print(
        f"target     fused 3-symbol cycle p50 <= {TARGET_FUSED_P50_MS:.0f} ms: {fused.pct_ms(50):.2f} ms "
        f"-> {'PASS' if met else 'MISS'}"
    )
    return met
