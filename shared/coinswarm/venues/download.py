"""Download a venue's candle history to a candle CSV (`date,open,high,low,close,volume`, ISO-8601 UTC),
resuming where an earlier download stopped.

A file is never left without candles: a new file (or one holding no candle yet) appears only with its
first page, written whole to `<file>.part` and renamed over it; a venue that refuses or cannot be
reached before then leaves nothing behind. Each later page is appended with one `write` on a file
opened for appending, so an interrupted download leaves only whole lines; a file that still ends in a
partial line (written by something else) is cut back to its last whole line before resuming. Resuming
reads the file's last date and asks the venue only for what follows it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from coinswarm.domain.models import Candle, iso
from coinswarm.marketdata.candle_files import COLUMNS

HEADER = ",".join(COLUMNS) + "\n"
TAIL_BYTES = 4096

#: The candle sizes each venue serves, as its API documents them, that Coinswarm trades on
#: (`coinswarm.config.settings.TIMEFRAMES`). Binance klines: 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h,
#: 8h, 12h, 1d, 3d, 1w, 1M (1s is shorter than any cycle; 1M, a calendar month, has no fixed length).
#: Coinbase Advanced Trade's public candles: ONE_MINUTE, FIVE_MINUTE, FIFTEEN_MINUTE, THIRTY_MINUTE,
#: ONE_HOUR, TWO_HOUR, SIX_HOUR, ONE_DAY (FOUR_HOUR is documented for the keyed endpoint only). The
#: clients' own tables (`binance.INTERVALS`, `coinbase_candles.GRANULARITIES`) hold the same sizes; a
#: test keeps them equal.
VENUE_TIMEFRAMES: dict[str, tuple[str, ...]] = {
    "coinbase": ("1m", "5m", "15m", "30m", "1h", "2h", "6h", "1d"),
    "binance": ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"),
}

Pages = Callable[[int, int], Iterator[list[Candle]]]  # (start_ts, end_ts) -> pages of closed candles


@dataclass(frozen=True, slots=True)
class DownloadResult:
    path: Path
    written: int
    resumed_after: int | None  # the last bar already in the file, when there was one
    first_ts: int | None
    last_ts: int | None


def last_bar(path: Path) -> int | None:
    """The open time of the file's last candle (cutting off a trailing partial line first); None when
    the file has no candle. Raises ValueError when the last line's date cannot be read."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open("rb+") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read()
        if not tail.endswith(b"\n"):
            cut = tail.rfind(b"\n")
            keep = size - len(tail) + cut + 1 if cut >= 0 else 0
            f.truncate(keep)
            tail = tail[: cut + 1] if cut >= 0 else b""
    lines = [line for line in tail.decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines or lines[-1].strip().lower().startswith("date"):
        return None
    stamp = lines[-1].split(",", 1)[0].strip()
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        if stamp.isdigit():
            return int(stamp)
        raise ValueError(f"{path}: the last line's date {stamp!r} is not ISO-8601; is it a candle CSV?") from None
    return int(moment.timestamp())


def download(
    pages: Pages,
    path: str | os.PathLike[str],
    *,
    timeframe_s: int,
    since_ts: int,
    until_ts: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> DownloadResult:
    """Append the closed candles of [since_ts, until_ts) that `path` lacks. `on_progress(done, total)`
    is told the bars covered so far (of the whole range) after each page."""
    p = Path(path)
    check_target(p)
    if until_ts <= since_ts:
        raise ValueError(f"nothing to download: the end {iso(until_ts)} is not after the start {iso(since_ts)}")
    resumed = last_bar(p)
    start = since_ts if resumed is None else max(since_ts, resumed + timeframe_s)
    total = max(1, (until_ts - since_ts) // timeframe_s)
    written, first, last = 0, None, resumed
    if start + timeframe_s <= until_ts:
        for page in pages(start, until_ts):
            fresh = [c for c in page if last is None or c.ts > last]
            if fresh:
                lines = "".join(_line(c) for c in fresh)
                if last is None:
                    _create(p, HEADER + lines)
                else:
                    _append(p, lines)
                written += len(fresh)
                first = first if first is not None else fresh[0].ts
                last = fresh[-1].ts
            if on_progress is not None and last is not None:
                on_progress(min(total, (last + timeframe_s - since_ts) // timeframe_s), total)
    return DownloadResult(p, written, resumed, first, last)


def _line(c: Candle) -> str:
    return f"{iso(c.ts)},{c.open!r},{c.high!r},{c.low!r},{c.close!r},{c.volume!r}\n"


def check_target(path: Path) -> None:
    """Refuse, before anything is fetched, a file that cannot be written: a .gz name, a directory, a
    folder that is not one or cannot be written to."""
    if path.name.lower().endswith(".gz"):
        raise ValueError(f"{path}: downloads are written as plain CSV (so they can resume); gzip the file afterwards")
    if path.is_dir():
        raise ValueError(f"{path} is a directory; name the CSV file to write")
    folder = next((d for d in (path.parent, *path.parent.parents) if d.exists()), Path("."))
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a directory, so {path} cannot be written")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{path} cannot be written here (no permission)")


def _create(path: Path, text: str) -> None:
    """The file with its header and first candles, or nothing: written to `<file>.part`, flushed, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(part, path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _append(path: Path, text: str) -> None:
    """One write of whole lines on an O_APPEND descriptor, flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        _write_all(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
