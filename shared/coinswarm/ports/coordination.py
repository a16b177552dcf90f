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
    def begin(self, key: str, *, now: int, in_progress_ttl_s: int) -> IdempotencyRecord | None:
        """Claim `key` for work. None: claimed, go ahead. A record: someone has (or is doing) it already.

        An IN_PROGRESS claim older than its ttl is taken over (its worker is presumed dead).
        """

    @abstractmethod
    def complete(self, key: str, result: JSON, *, now: int, ttl_s: int) -> None:
        """Mark the claimed `key` done and keep `result` for later duplicates."""

    @abstractmethod
    def abandon(self, key: str) -> None:
        """Drop an IN_PROGRESS claim after a failure, so a retry may run."""

    @abstractmethod
    def acquire_lease(self, name: str, owner: str, *, now: int, ttl_s: int) -> bool:
        """Hold `name` until `now + ttl_s` unless someone else holds an unexpired lease. Re-entrant."""

    @abstractmethod
    def release_lease(self, name: str, owner: str) -> None:
        """Give up the lease if `owner` holds it."""
