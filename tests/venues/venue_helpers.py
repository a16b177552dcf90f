"""Constants and the fake clock of the venue tests (a module of its own: conftest is not importable by name
when several test folders have one)."""

from __future__ import annotations

T0 = 1_717_200_000.0  # 2024-06-01T00:00:00Z
CB_KEY_NAME = "organizations/fake-org-0000/apiKeys/fake-key-0000"
BN_API_KEY = "fake-binance-api-key-not-real-0000"
BN_SECRET = "fake-binance-secret-not-real-0123456789abcdef"
READ_TIMEOUT_S = 0.2


class FakeClock:
    """Seconds since the epoch that move only when someone sleeps on them."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
