"""Time, injected: the system clock when trading, a simulated one in backtests."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod


class Clock(ABC):
    @abstractmethod
    def now(self) -> int:
        """UTC epoch seconds."""


class SystemClock(Clock):
    def now(self) -> int:
        return int(time.time())


class SimulatedClock(Clock):
    def __init__(self, start: int = 0) -> None:
        self._now = start

    def now(self) -> int:
        return self._now

    def set(self, ts: int) -> None:
        self._now = ts
