"""Errors of the market data sources."""

from __future__ import annotations


class MarketDataUnavailable(Exception):
    """A market data source could not deliver: unreachable, timed out, refused, or answered nonsense.

    `reason` says what happened in words a user can act on (status code, URL path; never a secret).
    Drivers catch it to fall back to another source, e.g. a replay when the machine is offline.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
