"""Candle files in Parquet: the columns `date, open, high, low, close, volume`, one symbol and timeframe.

Contract: `load_parquet(path, symbol=, timeframe_s=)` checks every row as `load_candles` checks a CSV
(finite positive prices within [low, high], a volume, strictly increasing times on the timeframe's
grid) and refuses the file whole with a `CandleFileError` naming the row and the fix. It returns a
`CandleFile` whose candles are a `CandleColumns`: the checked columns, from which each `Candle` is
built when first read, so a load costs the columns and not half a million objects.
`write_parquet(path, candles)` writes such a file (zstd-compressed, written beside and renamed in).
`date` is a timestamp column (UTC when it has no zone) or integer epoch seconds.
Needs pyarrow (`pip install 'coinswarm[parquet]'`); without it, both say so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any, overload

from coinswarm.domain.gaps import Gap
from coinswarm.domain.models import Candle, iso
from coinswarm.marketdata.candle_files import COLUMNS, CandleFile, CandleFileError, build_candle_rows

CHUNK = 16_384
INSTALL = "reading and writing Parquet needs pyarrow: pip install 'coinswarm[parquet]' (or pip install pyarrow)"


class ParquetCandleError(CandleFileError):
    """A Parquet candle file that cannot be used; the message names the row (1 = the first row)."""

    def __init__(self, path: str | os.PathLike[str], row: int, problem: str) -> None:
        ValueError.__init__(self, f"{os.fspath(path)}, row {row}: {problem}")
        self.path = os.fspath(path)
        self.line = row
        self.problem = problem


def _pyarrow() -> tuple[Any, Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:
        raise RuntimeError(INSTALL) from None
    return pa, pc, pq


class CandleColumns(Sequence[Candle]):
    """Checked candle columns (Arrow arrays) that read as a sequence of `Candle`s, each built when read."""

    __slots__ = ("_columns", "_n", "symbol", "timeframe_s")

    def __init__(self, symbol: str, timeframe_s: int, columns: Sequence[Any]) -> None:
        """`columns`: ts (int64 epoch seconds), open, high, low, close, volume, each of one length."""
        self.symbol, self.timeframe_s = symbol, timeframe_s
        self._columns = tuple(columns)
        self._n = len(self._columns[0])

    def __len__(self) -> int:
        return self._n

    def _rows(self, start: int, stop: int) -> list[Candle]:
        sym, tf = self.symbol, self.timeframe_s
        n = max(0, min(stop, self._n) - start)
        ts, o, h, lo, c, v = (col.slice(start, n).to_pylist() for col in self._columns)
        return build_candle_rows(zip(repeat(sym, n), ts, o, h, lo, c, v, repeat(tf, n), strict=True))

    @overload
    def __getitem__(self, index: int) -> Candle: ...
    @overload
    def __getitem__(self, index: slice) -> list[Candle]: ...
    def __getitem__(self, index: int | slice) -> Candle | list[Candle]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            rows = self._rows(start, stop) if stop > start else []
            return rows[::step] if step != 1 else rows
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("candle index out of range")
        return self._rows(i, i + 1)[0]

    def __iter__(self) -> Iterator[Candle]:
        for start in range(0, len(self), CHUNK):
            yield from self._rows(start, start + CHUNK)


def _first(pc: Any, bad: Any) -> int | None:
    """The index of the first true value of a boolean array, or None."""
    if not pc.any(bad).as_py():
        return None
    return int(pc.index(bad, True).as_py())


def _epoch_seconds(pa: Any, pc: Any, path: Path, column: Any) -> Any:
    kind = column.type
    if pa.types.is_timestamp(kind):
        return pc.divide(pc.cast(column.cast(pa.timestamp("s", tz=kind.tz)), pa.int64()), 1)
    if pa.types.is_integer(kind):
        return pc.cast(column, pa.int64())
    raise ParquetCandleError(
        path, 1, f"column date is {kind}; give a timestamp column or integer epoch seconds (the bar's open time)"
    )


def load_parquet(
    path: str | os.PathLike[str], *, symbol: str | None = None, timeframe_s: int | None = None
) -> CandleFile:
    from coinswarm.marketdata.candle_files import symbol_and_timeframe_from_name

    pa, pc, pq = _pyarrow()
    p = Path(path)
    name_symbol, name_tf = symbol_and_timeframe_from_name(p)
    sym = symbol if symbol is not None else name_symbol
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ParquetCandleError(p, 1, f"not a readable Parquet file ({str(exc)[:200]}); write it again") from None
    names = {n.lower(): n for n in table.column_names}
    absent = [c for c in COLUMNS if c not in names]
    if absent:
        raise ParquetCandleError(p, 1, f"missing column(s) {', '.join(absent)}; a candle file has {', '.join(COLUMNS)}")
    if table.num_rows == 0:
        raise ParquetCandleError(p, 1, "the file has no candles; download it again")
    cols = {c: table.column(names[c]).combine_chunks() for c in COLUMNS}
    for c in COLUMNS:
        nulls = _first(pc, pc.is_null(cols[c]))
        if nulls is not None:
            raise ParquetCandleError(p, nulls + 1, f"{c} is empty; fix or remove the row")
    try:
        o, h, lo, c, v = (pc.cast(cols[k], pa.float64()) for k in ("open", "high", "low", "close", "volume"))
    except pa.ArrowInvalid as exc:
        raise ParquetCandleError(p, 1, f"a price or volume column is not numeric ({str(exc)[:120]})") from None
    ts = _epoch_seconds(pa, pc, p, cols["date"])

    finite = pc.and_(pc.and_(pc.is_finite(o), pc.is_finite(h)), pc.and_(pc.is_finite(lo), pc.is_finite(c)))
    checks = [
        (pc.invert(pc.and_(finite, pc.is_finite(v))), "a price or the volume is not a finite number"),
        (pc.less_equal(lo, 0.0), "low is not above 0: prices must be positive"),
        (pc.less(v, 0.0), "the volume is negative"),
        (pc.less(h, lo), "high is below low"),
        (
            pc.or_(pc.or_(pc.less(o, lo), pc.greater(o, h)), pc.or_(pc.less(c, lo), pc.greater(c, h))),
            "open and close must lie within [low, high]",
        ),
    ]
    for bad, problem in checks:
        row = _first(pc, bad)
        if row is not None:
            values = ", ".join(f"{k}={cols[k][row].as_py()!r}" for k in COLUMNS)
            raise ParquetCandleError(p, row + 1, f"{problem} ({values}); fix or remove the row")

    diffs = pc.pairwise_diff(ts).slice(1) if len(ts) > 1 else pa.array([], pa.int64())
    back = _first(pc, pc.less_equal(diffs, 0))
    if back is not None:
        what = "repeats the previous row's time" if diffs[back].as_py() == 0 else "is earlier than the previous row's"
        at = iso(ts[back + 1].as_py())
        raise ParquetCandleError(p, back + 2, f"time {at} {what}; sort by date and drop duplicates")
    tf = timeframe_s or name_tf
    if not tf:
        if not len(diffs):
            raise ParquetCandleError(p, 1, "a single candle does not show its timeframe; name the file like ETH_BTC-5m")
        counts = pc.value_counts(diffs).to_pylist()
        tf = max(counts, key=lambda x: x["counts"])["values"]
    gaps: list[Gap] = []
    for k in pc.indices_nonzero(pc.not_equal(diffs, tf)).to_pylist():
        before, after = ts[k].as_py(), ts[k + 1].as_py()
        if (after - before) % tf:
            raise ParquetCandleError(
                p, k + 2, f"time {iso(after)} is not a whole number of {tf} s bars after the row before"
            )
        gaps.append(Gap(sym, before, after, (after - before) // tf - 1))
    candles = CandleColumns(sym, tf, (ts, o, h, lo, c, v))
    return CandleFile(path=p, symbol=sym, timeframe_s=tf, candles=candles, gaps=gaps)  # type: ignore[arg-type]


def write_parquet(path: str | os.PathLike[str], candles: Sequence[Candle]) -> Path:
    pa, _, pq = _pyarrow()
    p = Path(path)
    if not candles:
        raise ValueError(f"no candles to write to {p}: a file without rows would not load")
    table = pa.table(
        {
            "date": pa.array([c.ts for c in candles], pa.int64()).cast(pa.timestamp("s", tz="UTC")),
            "open": pa.array([c.open for c in candles], pa.float64()),
            "high": pa.array([c.high for c in candles], pa.float64()),
            "low": pa.array([c.low for c in candles], pa.float64()),
            "close": pa.array([c.close for c in candles], pa.float64()),
            "volume": pa.array([c.volume for c in candles], pa.float64()),
        }
    )
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p
