"""Errors every store adapter raises the same way, so stages can treat them alike."""


class StoreError(Exception):
    """A store could not do what was asked."""


class ConflictError(StoreError):
    """A conditional write lost: the item changed (or exists, or is missing) since it was read."""


class SequenceConflict(ConflictError):
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
