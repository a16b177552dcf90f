"""The rules every store adapter enforces the same way: TTL expiry, version checks on conditional
writes, and the ledger's unbroken sequence. One copy, so the SQLite, in-memory and cloud adapters
refuse the same writes with the same errors."""

from __future__ import annotations

from collections.abc import Sequence

from coinswarm.domain.models import LedgerEvent
from coinswarm.errors import ConflictError, SequenceConflictError


def expired(expires_ts: float | None, now: float) -> bool:
    """A document with an expiry is live while `now < expires_ts`."""
    return expires_ts is not None and now >= expires_ts


def check_version(what: str, expected: int | None, current: int) -> None:
    """Refuse a conditional write: `expected` None writes anyway, 0 means "must not exist"."""
    if expected is not None and expected != current:
        state = "does not exist" if current == 0 else f"is at version {current}"
        raise ConflictError(f"{what} {state}, but the write expected version {expected}")


def check_sequence(stream: str, events: Sequence[LedgerEvent], last: int) -> None:
    """Refuse a batch unless it names `stream` and continues it exactly: last+1, last+2, ..."""
    for i, event in enumerate(events):
        expected = last + 1 + i
        if event.stream != stream:
            err = SequenceConflictError(stream, expected, event.seq)
            err.add_note(f"event {event.event_id!r} belongs to stream {event.stream!r}, not {stream!r}")
            raise err
        if event.seq != expected:
            raise SequenceConflictError(stream, expected, event.seq)
