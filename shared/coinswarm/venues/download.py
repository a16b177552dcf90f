"""Download a venue's candle history to a candle CSV (`date,open,high,low,close,volume`, ISO-8601 UTC),
resuming where an earlier download stopped.

Each page of candles is appended with one `write` on a file opened for appending, so an interrupted
download leaves only whole lines; a file that still ends in a partial line (written by something else)
is cut back to its last whole line before resuming. Resuming reads the file's last date and asks the
venue only for what follows it.
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
    if p.name.lower().endswith(".gz"):
        raise ValueError(f"{p}: downloads are written as plain CSV (so they can resume); gzip the file afterwards")
    if until_ts <= since_ts:
        raise ValueError(f"nothing to download: the end {iso(until_ts)} is not after the start {iso(since_ts)}")
    resumed = last_bar(p)
    start = since_ts if resumed is None else max(since_ts, resumed + timeframe_s)
    total = max(1, (until_ts - since_ts) // timeframe_s)
    written, first, last = 0, None, resumed
    if not p.exists() or p.stat().st_size == 0:
        p.parent.mkdir(parents=True, exist_ok=True)
        _append(p, HEADER)
    if start + timeframe_s <= until_ts:
        for page in pages(start, until_ts):
            fresh = [c for c in page if last is None or c.ts > last]
            if fresh:
                _append(
                    p, "".join(f"{iso(c.ts)},{c.open!r},{c.high!r},{c.low!r},{c.close!r},{c.volume!r}\n" for c in fresh)
                )
                written += len(fresh)
                first = first if first is not None else fresh[0].ts
                last = fresh[-1].ts
            if on_progress is not None and last is not None:
                on_progress(min(total, (last + timeframe_s - since_ts) // timeframe_s), total)
    return DownloadResult(p, written, resumed, first, last)


def _append(path: Path, text: str) -> None:
    """One write of whole lines on an O_APPEND descriptor, flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        data = text.encode()
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
