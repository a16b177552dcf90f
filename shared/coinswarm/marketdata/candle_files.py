"""Candle files: CSV `date,open,high,low,close,volume`, plain or gzipped, one symbol and timeframe each.

`date` is the bar's open time in UTC: ISO-8601 (`2018-01-10T04:55:00Z`, `+00:00` or another explicit
offset) or bare epoch seconds. A file is checked row by row and refused whole with a `CandleFileError`
naming the file, the line and what to do, rather than loaded half right.

Loading is the hot path of a backtest over long series, so rows are checked with plain float compares
and the candles are built without checking them again (see `_build`).
"""

from __future__ import annotations

import gzip
import math
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, cast

from coinswarm.domain.gaps import Gap
from coinswarm.domain.models import CANDLE_FIELDS, MAX_MARKET_NUMBER, Candle, iso
from coinswarm.errors import CoinswarmError
from coinswarm.gc_pause import collector_paused

__all__ = [
    "COLUMNS",
    "CandleFile",
    "CandleFileError",
    "load_candles",
    "parse_timeframe",
    "stitch",
    "symbol_and_timeframe_from_name",
    "symbol_problem",
    "write_candles",
]

COLUMNS: tuple[str, ...] = ("date", "open", "high", "low", "close", "volume")
_HEADER = ",".join(COLUMNS)
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
MAX_LINE_CHARS = 1000  # a candle row is about 60 characters; a header a little less
_CHUNK_BYTES = 1 << 20
_EXCERPT_CHARS = 40
_INF = MAX_MARKET_NUMBER  # the fast path's bound: prices and volumes below it (inf and NaN fail it too)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class CandleFileError(CoinswarmError, ValueError):
    """A candle file that cannot be used as it is. The message names the file, the line and the fix."""

    exit_code = 2  # the user gave a file to fix, as with any other bad input

    def __init__(self, path: str | os.PathLike[str], line: int, problem: str) -> None:
        super().__init__(f"{os.fspath(path)}, line {line}: {problem}")
        self.path = os.fspath(path)
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CandleFile:
    """A loaded file: its candles in time order and the gaps between them."""

    path: Path
    symbol: str
    timeframe_s: int
    candles: list[Candle]
    gaps: list[Gap]

    @property
    def missing(self) -> int:
        """How many whole bars the gaps leave out in all."""
        return sum(g.missing for g in self.gaps)


# --------------------------------------------------------------------------------------------- names

_TF_SUFFIX = re.compile(r"^(?P<rest>.+)-(?P<n>\d+)(?P<unit>[smhdw])$")
_PAIR = re.compile(r"^(?P<base>[A-Za-z0-9]+)[_-](?P<quote>[A-Za-z0-9]+)$")


def symbol_problem(cf: CandleFile) -> str | None:
    """What is wrong with the symbol a file was loaded as (from its name unless given), or None: a name
    like `mydata.csv` gives the symbol `mydata`, which no configuration accepts."""
    from coinswarm.config.settings import SYMBOL_RE  # here: the domain of this module needs no configuration

    if SYMBOL_RE.match(cf.symbol):
        return None
    return (
        f"{cf.path}: the file name does not say which symbol the candles are of ({cf.symbol[:_EXCERPT_CHARS]!r} "
        "is not a symbol like BTC-USD); name the file like BTC_USD-1m.csv.gz"
    )


def parse_timeframe(text: str) -> int:
    """`5m` -> 300. Units: s, m, h, d, w."""
    m = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if m is None or int(m.group(1)) <= 0:
        raise ValueError(f"not a timeframe: {text!r} (expected a count and a unit, like 1m, 5m, 1h or 1d)")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv", ".parquet"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def symbol_and_timeframe_from_name(path: str | os.PathLike[str]) -> tuple[str, int | None]:
    """`ETH_BTC-5m.csv.gz` -> ("ETH-BTC", 300).

    A name of another shape gives its stem as the symbol; the timeframe is None when the name has none.
    """
    stem = _stem(Path(path))
    rest, timeframe = stem, None
    m = _TF_SUFFIX.match(stem)
    if m is not None and int(m.group("n")) > 0:
        rest, timeframe = m.group("rest"), int(m.group("n")) * _UNITS[m.group("unit")]
    pair = _PAIR.match(rest)
    if pair is not None:
        return f"{pair.group('base').upper()}-{pair.group('quote').upper()}", timeframe
    return stem, timeframe


# --------------------------------------------------------------------------------------------- times

_ISO = re.compile(
    r"(?P<day>(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2}))"
    r"(?P<tail>[T ](?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<tz>Z|z|[+-]\d{2}:?\d{2})?)",
    re.ASCII,
)
_EPOCH = re.compile(r"\d{1,10}", re.ASCII)


class _TimeParser:
    """Parses `date` cells, caching the two halves of ISO stamps.

    `2018-01-10T04:55:00Z` splits into the day `2018-01-10` (epoch of its midnight) and the tail
    `T04:55:00Z` (seconds into the day, less the UTC offset). A file has few distinct days and at
    most 86,400 tails per offset (288 for 5-minute bars), so after the first rows a stamp costs two
    slices and two dict lookups. Each half is checked strictly the first time it is seen.
    """

    __slots__ = ("days", "tails")

    def __init__(self) -> None:
        self.days: dict[str, int] = {}
        self.tails: dict[str, int] = {}

    def slow(self, text: str) -> int:
        """Parse a stamp the caches do not know; ValueError says what is wrong with it."""
        cell = text.strip()
        if _EPOCH.fullmatch(cell):
            return int(cell)
        if cell.isascii() and cell.isdigit():
            raise ValueError(
                f"date {_excerpt(cell)} is too large for epoch seconds (milliseconds?); "
                "write epoch seconds or ISO-8601 UTC"
            )
        m = _ISO.fullmatch(cell)
        if m is None:
            raise ValueError(
                f"date {_excerpt(cell)} is not a time; write ISO-8601 UTC like 2018-01-10T04:55:00Z, or epoch seconds"
            )
        if m.group("tz") is None:
            raise ValueError(
                f"date {_excerpt(cell)} has no time zone; write it in UTC with a Z, like 2018-01-10T04:55:00Z"
            )
        try:
            day = int(datetime(int(m.group("y")), int(m.group("mo")), int(m.group("d")), tzinfo=UTC).timestamp())
        except ValueError as exc:
            raise ValueError(f"date {_excerpt(cell)} is not a valid calendar date ({exc})") from None
        hour, minute, second = int(m.group("h")), int(m.group("mi")), int(m.group("s"))
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"date {_excerpt(cell)} is not a valid clock time")
        frac = m.group("frac")
        if frac is not None and frac.strip("0"):
            raise ValueError(f"date {_excerpt(cell)} is not on a whole second; bars open on whole seconds")
        tz = m.group("tz").replace(":", "")
        offset = 0
        if tz not in ("Z", "z"):
            oh, om = int(tz[1:3]), int(tz[3:5])
            if oh > 23 or om > 59:
                raise ValueError(f"date {_excerpt(cell)} has an invalid UTC offset")
            offset = (oh * 3600 + om * 60) * (1 if tz[0] == "+" else -1)
        tail = hour * 3600 + minute * 60 + second - offset
        self.days[m.group("day")] = day
        self.tails[m.group("tail")] = tail
        return day + tail


# --------------------------------------------------------------------------------------------- candles

Row = tuple[str, int, float, float, float, float, float, int]  # a checked row, in the order of CANDLE_FIELDS


def _build(rows: Iterable[Row]) -> list[Candle]:
    """Candles of rows this module has already checked, without checking them again: each slot set
    directly (Candle is a frozen slotted dataclass, whose `__init__` would check every row again and
    set each field through `object.__setattr__`): about 0.8 us a candle against 1.9 us."""
    new = object.__new__
    s0, s1, s2, s3, s4, s5, s6, s7 = _SETTERS
    out: list[Candle] = []
    add = out.append
    for sym, ts, o, h, lo, c, v, tf in rows:
        m = new(Candle)
        s0(m, sym)
        s1(m, ts)
        s2(m, o)
        s3(m, h)
        s4(m, lo)
        s5(m, c)
        s6(m, v)
        s7(m, tf)
        add(m)
    return out


_SETTERS = tuple(getattr(Candle, name).__set__ for name in CANDLE_FIELDS)  # Row's order (a unit test checks it)


def build_candle_rows(rows: Iterable[Row]) -> list[Candle]:
    """Candles from rows a loader has already checked (values of every field of `Candle`, valid, in the
    order of CANDLE_FIELDS: a loader's columns zipped), unchecked."""
    with collector_paused():
        return _build(rows)


# --------------------------------------------------------------------------------------------- loading


def _lines(path: Path) -> Iterator[str]:
    """The file's lines (without their line break), decompressed on the fly when it is gzipped, read a
    chunk at a time: a line longer than MAX_LINE_CHARS is refused as soon as it is seen, so a small
    file that decompresses into one enormous line costs no more memory than a chunk."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream: BinaryIO = cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")) if gzipped else raw
        lineno, carry, first = 0, b"", True
        while True:
            try:
                chunk = stream.read(_CHUNK_BYTES)
            except (OSError, EOFError, zlib.error) as exc:
                if not gzipped:
                    raise
                raise CandleFileError(
                    path, lineno + 1, f"the file starts like gzip but does not decompress ({exc}); download it again"
                ) from None
            if first:
                chunk, first = chunk.removeprefix(_BOM), False
            data = carry + chunk
            end = data.rfind(b"\n") + 1 if chunk else len(data)
            carry = data[end:]
            if end:
                text = _decode(path, lineno, data[:end])
                lines = text.split("\n")
                if text.endswith("\n"):
                    lines.pop()
                if max(map(len, lines)) > MAX_LINE_CHARS:
                    n = next(i for i, line in enumerate(lines) if len(line) > MAX_LINE_CHARS)
                    raise _too_long(path, lineno + n + 1, lines[n].encode())
                lineno += len(lines)
                yield from lines
            if len(carry) > MAX_LINE_CHARS * 4:  # bytes: a UTF-8 character takes at most four
                raise _too_long(path, lineno + 1, carry)
            if not chunk:
                return


def _decode(path: Path, before: int, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = before + data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1)
        raise CandleFileError(
            path, line, f"the file is not UTF-8 text (byte {column} of the line); is it a CSV of candles?"
        ) from None


def _too_long(path: Path, lineno: int, start: bytes) -> CandleFileError:
    head = start[:_EXCERPT_CHARS].decode("utf-8", "replace")
    return CandleFileError(
        path,
        lineno,
        f"the line is longer than {MAX_LINE_CHARS} characters (it starts {_excerpt(head)}); "
        "a candle file has one short row per line: is it a CSV of candles?",
    )


def _excerpt(text: str) -> str:
    """At most the first _EXCERPT_CHARS characters of `text`, quoted, for an error message."""
    text = text.strip()
    return repr(text) if len(text) <= _EXCERPT_CHARS else f"{text[:_EXCERPT_CHARS]!r}..."


def _column_indices(path: Path, header: str) -> tuple[int, ...]:
    names = [c.strip().lower() for c in header.split(",")]
    expected = f"expected the header {_HEADER}"
    missing = [c for c in COLUMNS if c not in names]
    extra = [c for c in names if c not in COLUMNS]
    repeated = sorted({c for c in names if names.count(c) > 1})
    if len(missing) == len(COLUMNS):
        raise CandleFileError(
            path, 1, f"the first line is not a header (got {_excerpt(header)}); {expected} as the first line"
        )
    problems = [
        f"{what} column{'s' if len(cols) > 1 else ''} {', '.join(_excerpt(c) for c in cols[: len(COLUMNS)])}"
        for what, cols in (("is missing", missing), ("has unexpected", extra), ("repeats", repeated))
        if cols
    ]
    if problems:
        raise CandleFileError(path, 1, f"the header {' and '.join(problems)}; {expected} (got {_excerpt(header)})")
    return tuple(names.index(c) for c in COLUMNS)


def _diagnose(path: Path, lineno: int, cells: Sequence[str]) -> CandleFileError:
    """The precise complaint about a row the fast path refused (`cells` in the order of COLUMNS)."""
    values: dict[str, float] = {}
    for i, name in enumerate(COLUMNS[1:], start=1):
        try:
            x = float(cells[i])
        except ValueError:
            return CandleFileError(
                path, lineno, f"{name} {_excerpt(cells[i])} is not a number; fix the row or remove it"
            )
        if not math.isfinite(x):
            return CandleFileError(
                path,
                lineno,
                f"{name} is {cells[i].strip()[:_EXCERPT_CHARS]}; prices and volumes must be finite numbers: "
                "fix or remove the row",
            )
        if x >= MAX_MARKET_NUMBER:
            return CandleFileError(
                path,
                lineno,
                f"{name} is {x:g}, beyond any market (the limit is {MAX_MARKET_NUMBER:g}): fix or remove the row",
            )
        values[name] = x
    o, h, lo, c, v = (values[k] for k in COLUMNS[1:])
    for name in ("open", "high", "low", "close"):
        if values[name] <= 0.0:
            return CandleFileError(
                path,
                lineno,
                f"{name} is {values[name]!r}; prices must be positive (a placeholder for no trades?)",
            )
    if v < 0.0:
        return CandleFileError(path, lineno, f"volume is {v!r}; volume cannot be negative")
    if h < lo:
        return CandleFileError(path, lineno, f"high {h!r} is below low {lo!r}; the row is corrupt (columns swapped?)")
    for name, x in (("open", o), ("close", c)):
        if not lo <= x <= h:
            return CandleFileError(
                path,
                lineno,
                f"{name} {x!r} lies outside [low {lo!r}, high {h!r}]; the row is corrupt (column order?)",
            )
    return CandleFileError(path, lineno, "the row is not a valid candle")  # pragma: no cover


def load_candles(
    path: str | os.PathLike[str], *, symbol: str | None = None, timeframe_s: int | None = None
) -> CandleFile:
    """Read and check a candle file. The symbol and timeframe default to the ones in the file name
    (`ETH_BTC-5m.csv.gz`); a timeframe not in the name is the most common step between rows.

    Raises CandleFileError (a ValueError) for a file that is empty, malformed, unsorted, inconsistent
    or off the timeframe grid; FileNotFoundError when there is no such file. A `.parquet` file is read
    by `coinswarm.marketdata.parquet_files` (the same checks, column by column).
    """
    if Path(path).name.lower().endswith(".parquet"):
        from coinswarm.marketdata.parquet_files import load_parquet

        return load_parquet(path, symbol=symbol, timeframe_s=timeframe_s)
    with collector_paused():
        return _load(Path(path), symbol, timeframe_s)


def _load(p: Path, symbol: str | None, timeframe_s: int | None) -> CandleFile:
    name_symbol, name_timeframe = symbol_and_timeframe_from_name(p)
    sym = symbol if symbol is not None else name_symbol
    if timeframe_s is not None and timeframe_s <= 0:
        raise ValueError(f"timeframe_s must be positive, got {timeframe_s}")
    known_tf = timeframe_s if timeframe_s is not None else name_timeframe

    lines, pick = _rows_after_header(p)
    ncols = len(COLUMNS)

    times = _TimeParser()
    days, tails = times.days, times.tails
    rows: list[Row] = []
    add = rows.append
    gaps: list[Gap] = []
    inf = _INF
    tf = known_tf or 0  # 0: not known yet, so every step takes the careful branch below
    prev_ts, prev_line = 0, 0
    lineno = 1
    row_lines: list[int] | None = None if tf else []  # each row's line, for the checks after the loop

    # The hot loop: written for speed (about 3 us a row, half of it in float()); see the module doc.
    # What is rare (a blank or bad row, a time in another spelling, a step other than one bar) is
    # handled by the functions below it, so the loop itself stays short.
    for line in lines:
        lineno += 1
        cells = line.split(",")
        try:
            if pick is not None:
                if len(cells) != ncols:
                    raise ValueError
                cells = pick(cells)
            d, so, sh, sl, sc, sv = cells
            o = float(so)
            h = float(sh)
            lo = float(sl)
            c = float(sc)
            v = float(sv)
        except ValueError:
            if not line.strip():
                continue
            raise _bad_row(p, lineno, cells) from None
        if not (0.0 < lo <= o <= h < inf and lo <= c <= h and 0.0 <= v < inf):
            raise _diagnose(p, lineno, cells)
        day = days.get(d[:10])
        tail = tails.get(d[10:])
        ts = _slow_time(p, lineno, times, d) if day is None or tail is None else day + tail
        step = ts - prev_ts
        if step != tf and prev_line:
            if step <= 0:
                raise _out_of_order(p, lineno, prev_line, prev_ts, ts, step)
            if tf:
                gaps.append(_gap(p, lineno, prev_line, prev_ts, ts, tf, sym))
        prev_ts, prev_line = ts, lineno
        add((sym, ts, o, h, lo, c, v, tf))
        if row_lines is not None:
            row_lines.append(lineno)

    if not rows:
        raise CandleFileError(p, 1, "the file has a header but no candles; download it again")
    if not tf:
        assert row_lines is not None
        tf = _timeframe_of(p, sym, rows, row_lines, gaps)
        rows = [(sym, ts, o, h, lo, c, v, tf) for sym, ts, o, h, lo, c, v, _ in rows]
    return CandleFile(path=p, symbol=sym, timeframe_s=tf, candles=_build(rows), gaps=gaps)


def _rows_after_header(p: Path) -> tuple[Iterator[str], itemgetter[Any] | None]:
    """The file's lines after its header, and how to put a row's cells in the order of COLUMNS (None:
    they are in that order already). An error when the file is empty or its header is not ours."""
    lines = _lines(p)
    header = next(lines, "")
    if not header.strip() and not any(line.strip() for line in lines):
        raise CandleFileError(p, 1, f"the file is empty; expected the header {_HEADER} and rows of candles")
    idx = _column_indices(p, header)
    return lines, None if idx == tuple(range(len(COLUMNS))) else itemgetter(*idx)


def _bad_row(p: Path, lineno: int, cells: Sequence[str]) -> CandleFileError:
    """What is wrong with a row that is not six fields of which five are numbers."""
    ncols = len(COLUMNS)
    if len(cells) != ncols:
        return CandleFileError(
            p, lineno, f"the row has {len(cells)} fields, expected {ncols} ({_HEADER}); fix or remove it"
        )
    return _diagnose(p, lineno, cells)


def _slow_time(p: Path, lineno: int, times: _TimeParser, text: str) -> int:
    """A time the parser's tables do not hold yet (a new day, another spelling), or the row's error."""
    try:
        return times.slow(text)
    except ValueError as exc:
        raise CandleFileError(p, lineno, str(exc)) from None


def _out_of_order(p: Path, lineno: int, prev_line: int, prev_ts: int, ts: int, step: int) -> CandleFileError:
    if step == 0:
        kind = f"repeats the time of line {prev_line} (duplicate rows); keep one of the two"
    else:
        kind = f"is earlier than line {prev_line}'s {iso(prev_ts)} (rows unsorted); sort by date"
    return CandleFileError(p, lineno, f"time {iso(ts)} {kind}")


def _gap(p: Path, lineno: int, prev_line: int, prev_ts: int, ts: int, tf: int, sym: str) -> Gap:
    """The bars missing between two rows further apart than one bar; an error when the step is not whole bars."""
    step = ts - prev_ts
    if step % tf:
        raise _misaligned(p, lineno, prev_line, prev_ts, ts, tf)
    return Gap(sym, prev_ts, ts, step // tf - 1)


def _timeframe_of(p: Path, sym: str, rows: list[Row], row_lines: list[int], gaps: list[Gap]) -> int:
    """The timeframe of rows loaded without knowing it: their most common step. Every longer step is
    added to `gaps` (an error when it is not a whole number of bars)."""
    if len(rows) < 2:
        raise CandleFileError(
            p,
            row_lines[0],
            "a single candle does not show its timeframe; pass timeframe_s or name the file like ETH_BTC-5m.csv",
        )
    stamps = [r[1] for r in rows]
    tf: int = Counter(b - a for a, b in pairwise(stamps)).most_common(1)[0][0]
    for k in range(1, len(stamps)):
        if stamps[k] - stamps[k - 1] != tf:
            gaps.append(_gap(p, row_lines[k], row_lines[k - 1], stamps[k - 1], stamps[k], tf, sym))
    return tf


def _misaligned(path: Path, lineno: int, prev_line: int, prev_ts: int, ts: int, tf: int) -> CandleFileError:
    return CandleFileError(
        path,
        lineno,
        f"time {iso(ts)} is {ts - prev_ts} s after line {prev_line} ({iso(prev_ts)}), "
        f"not a whole number of {tf} s bars (rows not aligned to the timeframe); "
        "check the timeframe or the file",
    )


# --------------------------------------------------------------------------------------------- writing


def write_candles(path: str | os.PathLike[str], candles: Sequence[Candle]) -> Path:
    """Write candles as `date,open,high,low,close,volume` (gzipped when the name ends in `.gz`).

    Floats are written exactly (`repr`), so a load gives back equal candles. The file is written
    next to its destination and renamed into place, so a reader never sees half of it. A name ending
    in `.parquet` writes Parquet instead (`coinswarm.marketdata.parquet_files`).
    """
    p = Path(path)
    if p.name.lower().endswith(".parquet"):
        from coinswarm.marketdata.parquet_files import write_parquet

        return write_parquet(p, candles)
    if not candles:
        raise ValueError(f"no candles to write to {p}: a file without rows would not load")
    for a, b in pairwise(candles):
        if b.ts <= a.ts:
            raise ValueError(f"candles must be in strictly increasing time: {iso(b.ts)} follows {iso(a.ts)}")
    out = [_HEADER]
    out.extend(f"{iso(c.ts)},{c.open!r},{c.high!r},{c.low!r},{c.close!r},{c.volume!r}" for c in candles)
    data = ("\n".join(out) + "\n").encode()
    if p.name.lower().endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


# --------------------------------------------------------------------------------------------- stitching


def stitch(files: Sequence[list[Candle]], symbol: str, timeframe_s: int) -> list[Candle]:
    """Join series end to end into one long series of `symbol` on a continuous time grid.

    The first series keeps its times and prices. Each following one starts one bar after the previous
    one ends (its own gaps kept) and is scaled so that its first open equals the previous last close;
    volumes are kept. Empty series are skipped. Scaling by a positive factor keeps every candle's
    OHLC order (rounding is monotonic), so the result is valid without validating it again.
    """
    if timeframe_s <= 0:
        raise ValueError(f"timeframe_s must be positive, got {timeframe_s}")
    rows: list[Row] = []
    add = rows.append
    for n, series in enumerate(files):
        if not series:
            continue
        first = series[0]
        if rows:
            last = rows[-1]
            shift = last[1] + timeframe_s - first.ts
            factor = last[5] / first.open
        else:
            shift, factor = 0, 1.0
        if not (math.isfinite(factor) and factor > 0.0):
            raise ValueError(f"series {n} cannot be scaled to follow the previous one (factor {factor})")
        prev_ts = first.ts - timeframe_s
        joined_at = len(rows)
        for c in series:
            ts = c.ts
            if ts <= prev_ts or (ts - prev_ts) % timeframe_s or c.timeframe_s != timeframe_s:
                raise ValueError(f"series {n} is not a series of {timeframe_s} s candles in time order (at {iso(ts)})")
            prev_ts = ts
            add(
                (
                    symbol,
                    ts + shift,
                    c.open * factor,
                    c.high * factor,
                    c.low * factor,
                    c.close * factor,
                    c.volume,
                    timeframe_s,
                )
            )
        if joined_at:
            sym, ts, _, h, lo, close, v, tf = rows[joined_at]
            o = rows[joined_at - 1][5]  # the open exactly where the previous series closed, not within a rounding error
            rows[joined_at] = (sym, ts, o, max(h, o), min(lo, o), close, v, tf)
    with collector_paused():
        return _build(rows)
