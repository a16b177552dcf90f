"""Every error Coinswarm raises on purpose, under one root, and what each one means for its caller.

    CoinswarmError
    ├── StoreError                     a store could not do what was asked
    │   ├── ConflictError              a conditional write lost (retry re-reads)
    │   │   └── SequenceConflictError  a ledger append would skip or repeat a sequence number
    │   └── TransientStoreError        throttled or briefly unavailable
    │       └── ClaimInProgressError   another delivery holds this work's claim: "not now"
    ├── BusError                       a message could not be handed on
    │   ├── TransientBusError          the next hop failed through every retry
    │   └── PermanentBusError          the next hop refused it for a reason a retry won't change
    ├── VenueError                     a venue (exchange) call failed
    │   ├── TemporaryVenueError        timeouts, 5xx, dropped connections
    │   │   ├── RateLimitedError       429/418 (or a local budget spent): wait `retry_after`
    │   │   └── CircuitOpenError       the breaker refuses new orders for now
    │   ├── InvalidOrderError          the venue refused the order as asked
    │   │   └── InsufficientFundsError
    │   ├── VenueAuthError             the key, its signature, permissions or the clock are wrong
    │   ├── OrderNotFoundError         no such order
    │   └── MalformedAnswerError       the venue answered something we cannot read
    └── MarketDataUnavailableError     a market data source could not deliver

Other modules root their own errors here too (the configuration, the CLI, the HTTP edges, packaging).

The class decides what happens to it, through four class attributes:

- `retryable`: a retry loop may try the same call again after a backoff (`venues.retry.with_retry`,
  the HTTP edges' 503 + Retry-After).
- `dead_letter`: a bus that cannot deliver gives the message up to its dead-letter queue rather than
  redelivering it; False for the "not now" errors, which must be redelivered.
- `http_status`: the status an HTTP edge answers when this error ends a request (`coinswarm.http.error_answer`,
  with Retry-After on a 503; 500 is a fault, answered without its message).
- `exit_code`: the CLI's exit status when this error ends a command (`coinswarm.cli.main`, which prints
  the message without a traceback).

A new class sets these where it differs from its base, and nothing else needs to know of it.

Messages say what happened in words a user can act on and never hold a key or a secret (`scrub`).
"""

from __future__ import annotations


class CoinswarmError(Exception):
    """Root of every error Coinswarm raises on purpose."""

    retryable: bool = False
    dead_letter: bool = True
    http_status: int = 500
    exit_code: int = 1


# --- stores -----------------------------------------------------------------------------------------


class StoreError(CoinswarmError):
    """A store could not do what was asked."""


class ConflictError(StoreError):
    """A conditional write lost: the item changed (or exists, or is missing) since it was read."""

    retryable = True
    http_status = 503


class SequenceConflictError(ConflictError):
    """A ledger append would skip or repeat a sequence number."""

    def __init__(self, stream: str, expected: int, got: int) -> None:
        super().__init__(
            f"ledger stream {stream!r}: the next sequence number is {expected}, but the write carried {got}"
        )
        self.stream = stream
        self.expected = expected
        self.got = got


class TransientStoreError(StoreError):
    """Throttled or briefly unavailable: safe to retry with backoff."""

    retryable = True
    http_status = 503


class ClaimInProgressError(TransientStoreError):
    """Another delivery of the same work holds its claim (an idempotency record still in progress).

    Not a failure of this delivery but a "not now": every trigger refuses the delivery in the way that
    makes its bus deliver it again later, logged as a warning, never acknowledged and never
    dead-lettered (docs/outbox.md). `retry_after_s`: the seconds until the claim expires (at least 1)."""

    dead_letter = False

    def __init__(self, key: str, retry_after_s: int) -> None:
        self.key = key
        self.retry_after_s = max(1, retry_after_s)
        super().__init__(
            f"{key}: another delivery holds this claim for up to {self.retry_after_s} s more; "
            "refused so that the bus delivers it again later"
        )


# --- buses ------------------------------------------------------------------------------------------


class BusError(CoinswarmError):
    """A message could not be handed on."""


class TransientBusError(BusError):
    """The next hop was unreachable, too slow, overloaded or failing, through every retry: the message
    may be sent again later (every consumer is idempotent), as a queue would redeliver it."""

    retryable = True
    http_status = 503


class PermanentBusError(BusError):
    """The next hop refused the message for a reason that a retry would not change (bad credentials,
    a malformed body, a topic it does not consume, a missing configuration): fix the cause first."""

    http_status = 502


# --- venues -----------------------------------------------------------------------------------------


class VenueError(CoinswarmError):
    """Base of every venue failure. `venue` names the venue; `status` is the HTTP status when one came."""

    http_status = 502

    def __init__(self, venue: str, reason: str, *, status: int | None = None, code: str | int | None = None) -> None:
        super().__init__(f"{venue}: {reason}")
        self.venue = venue
        self.reason = reason
        self.status = status
        self.code = code


class TemporaryVenueError(VenueError):
    """Worth trying again later. `maybe_executed` is True when the request may have reached the venue
    and been carried out (a timeout while reading, a dropped connection, a 5xx): an order placed this
    way must be looked up by its client order id before it is sent again."""

    retryable = True
    http_status = 503

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


class RateLimitedError(TemporaryVenueError):
    """Too many requests. `retry_after` is how long to wait (seconds); `banned` marks Binance's 418."""

    def __init__(
        self, venue: str, reason: str, *, retry_after: float, status: int | None = None, banned: bool = False
    ) -> None:
        super().__init__(venue, reason, status=status)
        self.retry_after = max(0.0, retry_after)
        self.banned = banned


class CircuitOpenError(TemporaryVenueError):
    """The circuit breaker is open: no new order until `retry_after` seconds have passed. Not retried
    inside a call: the breaker said stop."""

    retryable = False

    def __init__(self, venue: str, reason: str, *, retry_after: float) -> None:
        super().__init__(venue, reason)
        self.retry_after = max(0.0, retry_after)


class InvalidOrderError(VenueError):
    """The venue refused the order as asked; sending it again unchanged will not help."""

    http_status = 422


class InsufficientFundsError(InvalidOrderError):
    """Not enough balance for the order."""


class VenueAuthError(VenueError):
    """Missing, malformed or wrongly signed credentials, a key without the permission, or a clock too far off."""


class OrderNotFoundError(VenueError):
    """The venue knows no such order."""

    http_status = 404


class MalformedAnswerError(VenueError):
    """The venue answered something that is not what its API documents."""


# --- market data ------------------------------------------------------------------------------------


class MarketDataUnavailableError(CoinswarmError):
    """A market data source could not deliver: unreachable, timed out, refused, or answered nonsense.

    `reason` says what happened in words a user can act on (status code, URL path; never a secret).
    Drivers catch it to fall back to another source, e.g. a replay when the machine is offline.
    """

    retryable = True
    http_status = 503

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret value (of 4 characters or more) replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
