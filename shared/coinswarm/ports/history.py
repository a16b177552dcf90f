"""History: the ledger (append-only, sequenced), its projections, decisions and risk rejections."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from coinswarm.domain.models import Decision, LedgerEvent, RiskRejection
from coinswarm.ports.state import JSON, Versioned


class HistoryStore(ABC):
    @abstractmethod
    def append(self, stream: str, events: Sequence[LedgerEvent]) -> None:
        """Append events whose `seq` continue the stream exactly (last+1, last+2, ...).

        All or nothing: a write that would skip or repeat a number raises `SequenceConflictError`
        and writes none of the events.
        """

    @abstractmethod
    def read(self, stream: str, after_seq: int = 0) -> list[LedgerEvent]:
        """Events with `seq > after_seq`, in order."""

    @abstractmethod
    def last_seq(self, stream: str) -> int:
        """The stream's highest sequence number, 0 when it is empty."""

    @abstractmethod
    def get_projection(self, stream: str) -> Versioned | None:
        """The stored projection (state folded from the stream's events)."""

    @abstractmethod
    def put_projection(self, stream: str, value: JSON, *, expected_version: int) -> int:
        """Replace the projection if its version is still `expected_version` (0: none yet)."""

    @abstractmethod
    def record_decision(self, decision: Decision) -> None:
        """Keep a decision with every vote (the audit trail); recording the same id twice keeps one."""

    def decision_retention(self) -> int | None:
        """How many of the newest decisions this store keeps: None for all. A long replay need not
        build the audit record of a hold that would be dropped at once."""
        return None

    @abstractmethod
    def recent_decisions(self, limit: int, symbol: str | None = None) -> list[Decision]:
        """The newest decisions, newest first."""

    @abstractmethod
    def record_rejection(self, rejection: RiskRejection) -> None:
        """Keep an intent that risk refused, with the reason; the same intent id twice keeps one."""

    @abstractmethod
    def recent_rejections(self, limit: int) -> list[RiskRejection]:
        """The newest risk rejections, newest first."""
