"""Idempotency records and leases: how at-least-once delivery still gives exactly-once effects."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

from coinswarm.ports.state import JSON


class IdempotencyStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    key: str
    status: IdempotencyStatus
    result: JSON | None
    expires_ts: int


class CoordinationStore(ABC):
    @abstractmethod
    def begin(self, key: str, *, owner: str, now: int, in_progress_ttl_s: int) -> IdempotencyRecord | None:
        """Claim `key` for work as `owner` (unique per attempt). None: claimed, go ahead. A record:
        someone has (or is doing) it already.

        An IN_PROGRESS claim older than its ttl is taken over (its worker is presumed dead).
        """

    @abstractmethod
    def complete(self, key: str, result: JSON, *, owner: str, now: int, ttl_s: int) -> None:
        """Mark `key` done and keep `result` for later duplicates. Raises ConflictError unless `owner`
        still holds the claim (a worker presumed dead must not overwrite its successor's)."""

    @abstractmethod
    def abandon(self, key: str, *, owner: str) -> None:
        """Drop `owner`'s IN_PROGRESS claim after a failure, so a retry may run; anything else stays."""

    @abstractmethod
    def acquire_lease(self, name: str, owner: str, *, now: int, ttl_s: int) -> bool:
        """Hold `name` until `now + ttl_s` unless someone else holds an unexpired lease. Re-entrant."""

    @abstractmethod
    def release_lease(self, name: str, owner: str) -> None:
        """Give up the lease if `owner` holds it."""
