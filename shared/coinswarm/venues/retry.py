"""Retries with exponential backoff and full jitter, for temporary venue errors only.

Only `TemporaryVenueError` errors are retried (timeouts, 5xx, dropped connections, 429); an invalid order, a
refused key or a missing order is final and propagates at once. A `RateLimitedError` error waits at least
its `Retry-After`. A `CircuitOpenError` error is not retried: the breaker said stop.

`sleep` and `rng` are injectable so tests never wait.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from coinswarm.backoff import full_jitter
from coinswarm.errors import RateLimitedError, TemporaryVenueError

T = TypeVar("T")
log = logging.getLogger("coinswarm.venues")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 0.25
    cap_s: float = 8.0
    #: The longest a Retry-After may make us wait inside one call; beyond it the error goes to the caller.
    max_retry_after_s: float = 30.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full jitter (`coinswarm.backoff.full_jitter`)."""
        return full_jitter(attempt, self.base_s, self.cap_s, rng)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def with_retry(
    call: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    retryable: Callable[[TemporaryVenueError], bool] = lambda exc: True,
    honour_retry_after: bool = True,
) -> T:
    """`call()`, tried up to `policy.attempts` times while it raises a TemporaryVenueError that `retryable`
    accepts. The last error propagates unchanged. `honour_retry_after=False` when a token bucket the
    call draws from was already held for the Retry-After (the transport's case): no double wait."""
    for attempt in range(policy.attempts):
        try:
            return call()
        except TemporaryVenueError as exc:
            last = attempt == policy.attempts - 1
            if last or not exc.retryable or not retryable(exc):  # CircuitOpenError is not: the breaker said stop
                raise
            pause = policy.delay(attempt, rng)
            if isinstance(exc, RateLimitedError):
                if exc.retry_after > policy.max_retry_after_s:
                    raise
                if honour_retry_after:
                    pause = max(pause, exc.retry_after)
            log.warning(
                "%s: %s; attempt %d of %d, trying again in %.2f s",
                what,
                exc.reason,
                attempt + 1,
                policy.attempts,
                pause,
                extra={"venue": exc.venue, "retry_in_s": round(pause, 3)},
            )
            sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover
