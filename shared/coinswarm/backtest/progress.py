"""A dependency-free progress bar on stderr, redrawn at most ~10 times a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str = "", out: TextIO | None = None, enabled: bool | None = None) -> None:
        self.total = max(1, total)
        self.label = label
        self.out = out or sys.stderr
        self.enabled = self.out.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self.step = max(1, self.total // 1000)

    def update(self, done: int) -> None:
        if not self.enabled or done % self.step:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1 and done < self.total:
            return
        self._last_draw = now
        self._draw(done, now)

    def close(self) -> None:
        if self.enabled:
            self._draw(self.total, time.perf_counter())
            self.out.write("\n")
            self.out.flush()

    def _draw(self, done: int, now: float) -> None:
        frac = min(1.0, done / self.total)
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        bar = "#" * int(frac * 30)
        self.out.write(
            f"\r{self.label} [{bar:<30}] {frac:6.1%} {done:,}/{self.total:,} bars {rate:,.0f} bars/s eta {eta:4.0f}s"
        )
        self.out.flush()
