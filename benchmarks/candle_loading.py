"""Loading candles: the same series written as CSV and as Parquet, each loaded `REPEATS` times.

The figure is the best of the repeats (the machine's noise only ever adds). A Parquet load reads and
checks the columns; its candles are built when the backtest reads them, so the time to build all of
them once is printed beside it (a backtest pays it as it replays)."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from coinswarm.domain.models import Candle
from coinswarm.marketdata.candle_files import load_candles, write_candles

REPEATS = 5
PARQUET_TARGET_S = 0.3


@dataclass(frozen=True)
class LoadTimes:
    bars: int
    csv_mb: float
    parquet_mb: float
    csv_s: float
    parquet_s: float
    parquet_build_all_s: float


def _best(path: Path) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        loaded = load_candles(path)
        times.append(time.perf_counter() - started)
        del loaded
    return min(times)


def measure(candles: list[Candle]) -> LoadTimes | None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        print("(candle loading: pyarrow is not installed: pip install -e '.[dev]')")
        return None
    name = candles[0].symbol.replace("-", "_") + "-5m"
    with tempfile.TemporaryDirectory(prefix="coinswarm-bench-") as folder:
        csv, parquet = Path(folder) / f"{name}.csv", Path(folder) / f"{name}.parquet"
        write_candles(csv, candles)
        write_candles(parquet, candles)
        csv_s, parquet_s = _best(csv), _best(parquet)
        loaded = load_candles(parquet).candles
        started = time.perf_counter()
        built = list(loaded)
        build_s = time.perf_counter() - started
        if built != candles:
            raise AssertionError("the Parquet file did not give back the candles written to it")
        return LoadTimes(
            len(candles), csv.stat().st_size / 1e6, parquet.stat().st_size / 1e6, csv_s, parquet_s, build_s
        )


def report(t: LoadTimes | None) -> bool:
    print("== candle loading " + "=" * 82)
    if t is None:
        return False
    ok = t.parquet_s <= PARQUET_TARGET_S
    print(f"CSV        {t.bars:,} bars, {t.csv_mb:.1f} MB: {t.csv_s:.2f} s ({t.bars / t.csv_s:,.0f} bars/s)")
    print(
        f"Parquet    {t.bars:,} bars, {t.parquet_mb:.1f} MB: {t.parquet_s:.3f} s "
        f"({t.bars / t.parquet_s:,.0f} bars/s); then every candle built once: {t.parquet_build_all_s:.2f} s"
    )
    print(
        f"ratio      Parquet / CSV = {t.parquet_s / t.csv_s:.3f}; "
        f"target Parquet load <= {PARQUET_TARGET_S} s: {'PASS' if ok else 'MISS'}"
    )
    return ok
