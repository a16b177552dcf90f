"""The one backoff schedule every retry loop uses: exponential growth with full jitter."""

from __future__ import annotations

import random
from collections.abc import Callable


def full_jitter(attempt: int, base_s: float, cap_s: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number `attempt` (0 first): uniform in [0, min(cap_s, base_s * 2**attempt))."""
    return float(rng() * min(cap_s, base_s * 2.0**attempt))
