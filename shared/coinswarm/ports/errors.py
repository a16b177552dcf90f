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


class ClaimInProgress(TransientStoreError):
    """Another delivery of the same work holds its claim (an idempotency record still in progress).

    Not a failure of this delivery but a "not now": the holder either completes (and a retry then gets
    its result) or was killed (and a retry after the claim expires takes it over). So every trigger
    refuses the delivery in the way that makes its bus deliver it again later (an SQS batch item
    failure, a raised asynchronous invocation, a non-2xx answer to a push), logged as a warning, never
    acknowledged: acknowledging it would lose the message whenever the holder is dead.
    `retry_after_s`: the seconds until the claim expires (at least 1)."""

    def __init__(self, key: str, retry_after_s: int) -> None:
        self.key = key
        self.retry_after_s = max(1, retry_after_s)
        super().__init__(
            f"{key}: another delivery holds this claim for up to {self.retry_after_s} s more; "
            "refused so that the bus delivers it again later"
        )
