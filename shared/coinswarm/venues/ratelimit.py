"""A token bucket per venue, set below the venue's published limits, that honours `Retry-After`.

A bucket of `capacity` tokens refilled at `rate` per second admits at most `capacity + rate * T`
units of cost in any interval of T seconds. `TokenBucket.within(limit)` picks capacity and rate so
that this bound over the venue's window is `share` of the published amount (80% by default), so no
burst, however it falls across the venue's window, reaches the limit: Binance answers 429 before it
bans (418), and a client that never gets a 429 is never banned.

When the venue says to wait anyway (429/418 with `Retry-After`), `hold(seconds)` empties the bucket
and makes every caller wait that long; `observe_usage` folds in the weight the venue reports as used
(Binance's `X-MBX-USED-WEIGHT-1M`), which counts other processes sharing the address.

Waiting is a reservation: `acquire` books its tokens and sleeps outside the lock, so threads queue in
order. A wait longer than `max_wait_s` raises `RateLimitedError` instead of blocking a short-lived function
for minutes. `clock` (monotonic seconds) and `sleep` are injectable: tests never wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from coinswarm.errors import RateLimitedError

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class Limit:
    """A published limit: `amount` units of cost per `window_s` seconds, and where it is published."""

    name: str
    amount: float
    window_s: float
    source: str


#: Coinbase Advanced Trade: private endpoints 30 requests/s per user, public 10 requests/s per IP.
#: https://docs.cdp.coinbase.com/advanced-trade/docs/rest-api-rate-limits (checked 2025)
COINBASE_PRIVATE = Limit("coinbase private", 30, 1.0, "docs.cdp.coinbase.com/advanced-trade/docs/rest-api-rate-limits")
COINBASE_PUBLIC = Limit("coinbase public", 10, 1.0, "docs.cdp.coinbase.com/advanced-trade/docs/rest-api-rate-limits")
#: Binance spot: REQUEST_WEIGHT 6000 per minute per IP; ORDERS 50 per 10 s per account (exchangeInfo
#: `rateLimits`; https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits).
_BINANCE_LIMITS = "developers.binance.com/docs/binance-spot-api-docs/rest-api/limits"
BINANCE_WEIGHT = Limit("binance weight", 6000, 60.0, _BINANCE_LIMITS)
BINANCE_ORDERS = Limit("binance orders", 50, 10.0, _BINANCE_LIMITS)


@dataclass(frozen=True, slots=True)
class BucketState:
    """What `coinswarm status` and the logs can show about a bucket."""

    name: str
    tokens: float
    capacity: float
    rate_per_s: float
    held_for_s: float


class TokenBucket:
    def __init__(
        self,
        name: str,
        *,
        rate_per_s: float,
        capacity: float,
        venue: str = "",
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        max_wait_s: float = 30.0,
    ) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError(f"bucket {name}: rate and capacity must be positive, got {rate_per_s} and {capacity}")
        self.name = name
        self.venue = venue or name.split()[0]
        self.rate = float(rate_per_s)
        self.capacity = float(capacity)
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._stamp = clock()  # the time `_tokens` refers to (may lie ahead: reservations)
        self._tokens = self.capacity
        self._held_until = self._stamp

    @classmethod
    def within(
        cls,
        limit: Limit,
        *,
        share: float = 0.8,
        burst: float = 0.25,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        max_wait_s: float = 30.0,
    ) -> TokenBucket:
        """A bucket that admits at most `share` of `limit` in any interval of the limit's window:
        `burst` of that budget at once, the rest spread evenly over the window."""
        if not (0 < share <= 1 and 0 < burst < 1):
            raise ValueError("share must lie in (0, 1] and burst in (0, 1)")
        budget = limit.amount * share
        capacity = max(1.0, budget * burst)
        rate = (budget - capacity) / limit.window_s
        return cls(limit.name, rate_per_s=rate, capacity=capacity, clock=clock, sleep=sleep, max_wait_s=max_wait_s)

    def _level(self, at: float) -> float:
        """Tokens at time `at` (not before `_stamp`), counting the refill since `_stamp`."""
        return min(self.capacity, self._tokens + max(0.0, at - self._stamp) * self.rate)

    def reserve(self, cost: float = 1.0) -> float:
        """Book `cost` tokens; return how long the caller must wait before sending (0 if at once)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._stamp)
            level = self._level(start)
            ready = start if level >= cost else start + (cost - level) / self.rate
            wait = ready - now
            if wait > self.max_wait_s:
                raise RateLimitedError(
                    self.venue,
                    f"{self.name}: the request budget frees up in {wait:.1f} s, longer than the "
                    f"{self.max_wait_s:.0f} s a caller may wait; try again later",
                    retry_after=wait,
                )
            self._tokens = max(0.0, level - cost) if level >= cost else 0.0
            self._stamp = ready
            return wait

    def acquire(self, cost: float = 1.0) -> float:
        """Wait (with the injected sleep) until `cost` may be spent; return the time waited."""
        wait = self.reserve(cost)
        if wait > 0:
            self._sleep(wait)
        return wait

    def hold(self, seconds: float) -> None:
        """The venue said to wait `seconds` (Retry-After): nothing goes out before, and the bucket
        refills from empty after, so the first requests after a 429 are not another burst."""
        with self._lock:
            now = self._clock()
            until = now + max(0.0, seconds)
            if until > self._stamp:
                self._stamp = until
                self._tokens = 0.0
            else:
                self._tokens = 0.0
            self._held_until = max(self._held_until, until)

    def observe_usage(self, used: float, limit: Limit, *, share: float = 0.8, window_left_s: float) -> None:
        """The venue reports `used` units spent in its current window (which ends in `window_left_s`):
        never hold more tokens than the budget it leaves; hold to the window's end when none is left."""
        remaining = limit.amount * share - used
        if remaining <= 0:
            self.hold(window_left_s)
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._stamp)
            self._tokens = min(self._level(start), remaining)
            self._stamp = start

    def state(self) -> BucketState:
        with self._lock:
            now = self._clock()
            return BucketState(
                name=self.name,
                tokens=self._level(now) if now >= self._stamp else self._tokens - (self._stamp - now) * self.rate,
                capacity=self.capacity,
                rate_per_s=self.rate,
                held_for_s=max(0.0, self._held_until - now),
            )
