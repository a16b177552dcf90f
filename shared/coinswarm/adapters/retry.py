"""Retry with exponential backoff and full jitter, for throttling at a cloud store's boundary
(DynamoDB's ProvisionedThroughputExceededException, Cosmos DB's 429, Firestore's RESOURCE_EXHAUSTED).

Each adapter says which of its SDK's errors are throttling; only those are retried, everything else
propagates at once. When the attempts run out, the last throttle surfaces as TransientStoreError so
the caller (a queue's redelivery, a later cycle) can try again. `sleep` and `rng` are injectable:
tests never wait.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from coinswarm.backoff import full_jitter
from coinswarm.errors import TransientStoreError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    attempts: int = 8
    base_s: float = 0.05
    cap_s: float = 2.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full jitter (`coinswarm.backoff.full_jitter`)."""
        return full_jitter(attempt, self.base_s, self.cap_s, rng)


def with_backoff(
    call: Callable[[], T],
    *,
    throttled: Callable[[BaseException], bool],
    what: str,
    policy: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """`call()`, retried while it fails with an error `throttled` recognises."""
    for attempt in range(policy.attempts):
        try:
            return call()
        except Exception as exc:
            if not throttled(exc):
                raise
            if attempt == policy.attempts - 1:
                raise TransientStoreError(f"{what}: still throttled after {policy.attempts} attempts") from exc
            sleep(policy.delay(attempt, rng))
    raise AssertionError("unreachable")  # pragma: no cover
