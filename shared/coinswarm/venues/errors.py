"""One error tree at the edge of every venue client.

    VenueError
    ├── Temporary            the venue may answer later: timeouts, 5xx, dropped connections
    │   ├── RateLimited      429/418 (or a local budget spent): wait `retry_after` seconds
    │   └── CircuitOpen      the breaker refuses new orders for now
    ├── InvalidOrder         the venue refused the order as asked (size, price, symbol, duplicate)
    │   └── InsufficientFunds
    ├── Authentication       the key, its signature, its permissions or the clock are wrong
    └── NotFound             no such order

Messages say what happened in words a user can act on: the venue, the method and path (never the
query string, which carries signatures), the status and the venue's own words. They never hold a key
or a secret: the clients never put one into a message, and `scrub` is there for the venue's words.
"""

from __future__ import annotations


class VenueError(Exception):
    """Base of every venue failure. `venue` names the venue; `status` is the HTTP status when one came."""

    def __init__(self, venue: str, reason: str, *, status: int | None = None, code: str | int | None = None) -> None:
        super().__init__(f"{venue}: {reason}")
        self.venue = venue
        self.reason = reason
        self.status = status
        self.code = code


class Temporary(VenueError):
    """Worth trying again later. `maybe_executed` is True when the request may have reached the venue
    and been carried out (a timeout while reading, a dropped connection, a 5xx): an order placed this
    way must be looked up by its client order id before it is sent again."""

    def __init__(
        self,
        venue: str,
        reason: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        maybe_executed: bool = False,
    ) -> None:
        super().__init__(venue, reason, status=status, code=code)
        self.maybe_executed = maybe_executed


class RateLimited(Temporary):
    """Too many requests. `retry_after` is how long to wait (seconds); `banned` marks Binance's 418."""

    def __init__(
        self, venue: str, reason: str, *, retry_after: float, status: int | None = None, banned: bool = False
    ) -> None:
        super().__init__(venue, reason, status=status)
        self.retry_after = max(0.0, retry_after)
        self.banned = banned


class CircuitOpen(Temporary):
    """The circuit breaker is open: no new order until `retry_after` seconds have passed."""

    def __init__(self, venue: str, reason: str, *, retry_after: float) -> None:
        super().__init__(venue, reason)
        self.retry_after = max(0.0, retry_after)


class InvalidOrder(VenueError):
    """The venue refused the order as asked; sending it again unchanged will not help."""


class InsufficientFunds(InvalidOrder):
    """Not enough balance for the order."""


class Authentication(VenueError):
    """Missing, malformed or wrongly signed credentials, a key without the permission, or a clock too far off."""


class NotFound(VenueError):
    """The venue knows no such order."""


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret value (of 4 characters or more) replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
