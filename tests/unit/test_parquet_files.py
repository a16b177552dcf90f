"""Parquet candle files: the same candles as the CSV they were written from, every bad row refused
with its row named, and candles built from the columns only when read."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coinswarm.domain.models import Candle
from coinswarm.marketdata.candle_files import CandleFileError, load_candles, write_candles
from coinswarm.marketdata.parquet_files import CandleColumns

T0 = 1_700_000_100 - 1_700_000_100 % 300


def series(n: int = 50, *, skip: tuple[int, ...] = ()) -> list[Candle]:
    out = []
    for k in range(n):
        if k in skip:
            continue
        px = 100 + math.sin(k / 5) * 3
        out.append(
            Candle(
                symbol="ETH-BTC",
                ts=T0 + 300 * k,
                open=px,
                high=px + 1,
                low=px - 1,
                close=px + 0.5,
                volume=k + 0.25,
                timeframe_s=300,
            )
        )
    return out


def test_a_round_trip_gives_the_csv_loaders_candles_and_gaps(tmp_path: Path) -> None:
    candles = series(skip=(7, 8, 30))
    csv = load_candles(write_candles(tmp_path / "ETH_BTC-5m.csv", candles))
    parquet = load_candles(write_candles(tmp_path / "ETH_BTC-5m.parquet", candles))
    assert list(parquet.candles) == csv.candles == candles
    assert parquet.gaps == csv.gaps and parquet.missing == 3
    assert (parquet.symbol, parquet.timeframe_s) == ("ETH-BTC", 300)


def test_the_timeframe_comes_from_the_steps_when_the_name_has_none(tmp_path: Path) -> None:
    loaded = load_candles(write_candles(tmp_path / "mine.parquet", series()), symbol="ETH-BTC")
    assert loaded.timeframe_s == 300


def test_candles_read_as_a_sequence(tmp_path: Path) -> None:
    candles = series(40_000 // 1000)
    loaded = load_candles(write_candles(tmp_path / "ETH_BTC-5m.parquet", candles)).candles
    assert isinstance(loaded, CandleColumns)
    assert len(loaded) == len(candles)
    assert loaded[0] == candles[0] and loaded[-1] == candles[-1]
    assert loaded[3:9] == candles[3:9] and loaded[::7] == candles[::7]
    with pytest.raises(IndexError):
        loaded[len(candles)]


def _table(tmp_path: Path, **overrides: list[object]) -> Path:
    n = 5
    cols: dict[str, list[object]] = {
        "date": [T0 + 300 * k for k in range(n)],
        "open": [10.0] * n,
        "high": [11.0] * n,
        "low": [9.0] * n,
        "close": [10.5] * n,
        "volume": [1.0] * n,
    }
    cols.update(overrides)
    path = tmp_path / "ETH_BTC-5m.parquet"
    pq.write_table(pa.table(cols), path)
    return path


@pytest.mark.parametrize(
    ("overrides", "row", "words"),
    [
        ({"high": [11.0, 11.0, float("inf"), 11.0, 11.0]}, 3, "not a finite number"),
        ({"close": [10.5, float("nan"), 10.5, 10.5, 10.5]}, 2, "not a finite number"),
        ({"low": [9.0, 9.0, 9.0, -1.0, 9.0], "open": [10.0] * 5}, 4, "positive"),
        ({"high": [11.0, 11.0, 11.0, 11.0, 8.0]}, 5, "high is below low"),
        ({"open": [10.0, 12.0, 10.0, 10.0, 10.0]}, 2, "within [low, high]"),
        ({"volume": [1.0, 1.0, -2.0, 1.0, 1.0]}, 3, "volume is negative"),
        ({"date": [T0, T0 + 300, T0 + 300, T0 + 900, T0 + 1200]}, 3, "repeats the previous row's time"),
        ({"date": [T0, T0 + 600, T0 + 300, T0 + 900, T0 + 1200]}, 3, "earlier than the previous row"),
        ({"date": [T0, T0 + 300, T0 + 700, T0 + 900, T0 + 1200]}, 3, "whole number of 300 s bars"),
        ({"close": [10.5, 10.5, None, 10.5, 10.5]}, 3, "close is empty"),
    ],
)
def test_a_bad_row_is_refused_by_its_number(
    tmp_path: Path, overrides: dict[str, list[object]], row: int, words: str
) -> None:
    with pytest.raises(CandleFileError, match=rf"row {row}: .*{re.escape(words)}"):
        load_candles(_table(tmp_path, **overrides))


def test_a_missing_column_and_a_broken_file_say_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "ETH_BTC-5m.parquet"
    pq.write_table(pa.table({"date": [T0], "open": [1.0]}), path)
    with pytest.raises(CandleFileError, match=r"missing column.*high, low, close, volume"):
        load_candles(path)
    path.write_bytes(b"date,open\n1,2\n")
    with pytest.raises(CandleFileError, match="not a readable Parquet file"):
        load_candles(path)


def test_timestamps_with_a_zone_and_without_are_utc(tmp_path: Path) -> None:
    stamps = pa.array([T0 + 300 * k for k in range(5)], pa.int64())
    for kind in (pa.timestamp("s"), pa.timestamp("ms", tz="UTC"), pa.timestamp("us", tz="UTC")):
        path = _table(tmp_path, date=stamps.cast(pa.timestamp("s")).cast(kind).to_pylist())
        assert load_candles(path).candles[2].ts == T0 + 600
