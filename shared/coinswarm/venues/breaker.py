"""A circuit breaker per venue: after `threshold` consecutive failures it opens and refuses new orders
for `cooldown_s` (answers to reads meanwhile do not close it); then it lets one probe through
(half-open) and closes on its success or opens again.

Failures are what says the venue (or our access to it) is unwell: temporary errors and refused
credentials. An order the venue refuses as invalid is the order's fault, not the venue's, and counts
as a sign of life. Reads (order lookups, fills) are never refused: they are how a client reconciles.

`state()` gives a snapshot for the logs and `coinswarm status`; every transition is logged once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from coinswarm.errors import CircuitOpenError

log = logging.getLogger("coinswarm.venues")


class BreakerMode(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerState:
    venue: str
    mode: BreakerMode
    consecutive_failures: int
    threshold: int
    reopens_in_s: float  # until a probe is allowed (0 unless open)
    last_error: str

    def describe(self) -> str:
        if self.mode is BreakerMode.OPEN:
            return (
                f"{self.venue}: circuit OPEN after {self.consecutive_failures} failures in a row "
                f"(last: {self.last_error}); new orders refused for {self.reopens_in_s:.0f} s more"
            )
        if self.mode is BreakerMode.HALF_OPEN:
            return f"{self.venue}: circuit half-open, one probe order allowed (last error: {self.last_error})"
        return f"{self.venue}: circuit closed ({self.consecutive_failures}/{self.threshold} failures in a row)"


class CircuitBreaker:
    def __init__(
        self, venue: str, *, threshold: int = 5, cooldown_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if threshold < 1 or cooldown_s <= 0:
            raise ValueError("threshold must be at least 1 and cooldown_s positive")
        self.venue = venue
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._mode = BreakerMode.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._last_error = ""

    def allow_order(self) -> None:
        """Raise CircuitOpenError unless a new order may go out now (closed, or the one half-open probe)."""
        with self._lock:
            if self._mode is BreakerMode.OPEN:
                left = self._opened_at + self.cooldown_s - self._clock()
                if left > 0:
                    raise CircuitOpenError(
                        self.venue,
                        f"circuit open after {self._failures} failures in a row (last: {self._last_error}); "
                        f"no new order for {left:.0f} s",
                        retry_after=left,
                    )
                self._set(BreakerMode.HALF_OPEN)
            if self._mode is BreakerMode.HALF_OPEN:
                if self._probing:
                    raise CircuitOpenError(
                        self.venue, "circuit half-open: a probe order is already out", retry_after=1.0
                    )
                self._probing = True

    def record_success(self) -> None:
        """An answer from the venue. While open, it does not cut the cooldown short: a read that works
        says little about orders; after the cooldown, one probe order decides (half-open)."""
        with self._lock:
            if self._mode is BreakerMode.OPEN:
                return
            self._failures = 0
            self._probing = False
            if self._mode is not BreakerMode.CLOSED:
                self._set(BreakerMode.CLOSED)

    def record_failure(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            self._last_error = reason[:200]
            self._probing = False
            if self._mode is BreakerMode.HALF_OPEN or (
                self._mode is BreakerMode.CLOSED and self._failures >= self.threshold
            ):
                self._opened_at = self._clock()
                self._set(BreakerMode.OPEN)

    def state(self) -> BreakerState:
        with self._lock:
            left = self._opened_at + self.cooldown_s - self._clock() if self._mode is BreakerMode.OPEN else 0.0
            return BreakerState(
                self.venue, self._mode, self._failures, self.threshold, max(0.0, left), self._last_error
            )

    def _set(self, mode: BreakerMode) -> None:
        self._mode = mode
        level = logging.WARNING if mode is not BreakerMode.CLOSED else logging.INFO
        log.log(
            level,
            "%s: circuit breaker %s (%d failures in a row; last: %s)",
            self.venue,
            mode.value,
            self._failures,
            self._last_error or "none",
            extra={"venue": self.venue, "breaker": mode.value},
        )
