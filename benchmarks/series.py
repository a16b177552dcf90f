"""The bars the backtest benchmarks replay.

The real five-minute files `*_BTC-5m.csv.gz` in `shared/data/ohlcv` next to this checkout (about 57,500
bars for the set of ten), stitched end to end with `stitch` (each file rescaled so that its first open
is the previous file's last close), the set repeated until there are enough bars, then cut to exactly
the number asked for. When the folder is missing, a seeded synthetic series of the same length, and
the description says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from coinswarm.domain.models import Candle
from coinswarm.marketdata.candle_files import load_candles, stitch
from coinswarm.marketdata.synthetic import synthetic_candles

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ohlcv"
PATTERN = "*_BTC-5m.csv.gz"
TIMEFRAME_S = 300
STITCHED_SYMBOL = "ALTS-BTC"  # ten altcoins quoted in BTC, one after the other
SYNTHETIC_SYMBOL = "SYN-USD"
SYNTHETIC_SEED = 7
SYNTHETIC_START_TS = 1_514_764_800  # 2018-01-01T00:00:00Z


@dataclass(frozen=True)
class Series:
    candles: list[Candle]
    description: str
    synthetic: bool
    files: int = 0  # CSV files read
    file_bars: int = 0  # bars in them, once
    load_s: float = 0.0  # reading and checking them
    build_s: float = 0.0  # stitching (or generating the synthetic series)

    @property
    def symbol(self) -> str:
        return self.candles[0].symbol


def backtest_series(bars: int, data_dir: Path = DATA_DIR) -> Series:
    """Exactly `bars` five-minute candles of one symbol on a continuous grid (the files' gaps kept)."""
    if bars < 2:
        raise ValueError(f"need at least 2 bars, got {bars}")
    paths = sorted(data_dir.glob(PATTERN)) if data_dir.is_dir() else []
    if not paths:
        return _synthetic(bars, f"{data_dir} has no {PATTERN} files")
    started = time.perf_counter()
    loaded = [load_candles(p).candles for p in paths]
    load_s = time.perf_counter() - started
    file_bars = sum(len(c) for c in loaded)
    started = time.perf_counter()
    chain: list[list[Candle]] = []
    total = 0
    while total < bars:
        for candles in loaded:
            chain.append(candles)
            total += len(candles)
            if total >= bars:
                break
    candles = stitch(chain, STITCHED_SYMBOL, TIMEFRAME_S)[:bars]
    build_s = time.perf_counter() - started
    names = ", ".join(p.name.split("_")[0] for p in paths)
    rounds = len(chain) / len(paths)
    description = (
        f"REAL 5-minute bars: {len(paths)} files ({names}) from {data_dir}, stitched end to end "
        f"(rescaled so prices join) {rounds:.2f} times, cut to {bars:,} bars"
    )
    return Series(candles, description, False, len(paths), file_bars, load_s, build_s)


def _synthetic(bars: int, why: str) -> Series:
    started = time.perf_counter()
    candles = synthetic_candles(
        SYNTHETIC_SYMBOL, bars, seed=SYNTHETIC_SEED, start_ts=SYNTHETIC_START_TS, timeframe_s=TIMEFRAME_S
    )
    build_s = time.perf_counter() - started
    description = f"SYNTHETIC 5-minute bars (seed {SYNTHETIC_SEED}), not market data: {why}"
    return Series(candles, description, True, build_s=build_s)
