"""History: the ledger (append-only, sequenced), its projections, decisions, risk rejections and episodes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

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

    # -- episodes (the market memory: one per closed trade; coinswarm.learning.episodes) ----------

    def record_episode(self, episode: Mapping[str, Any]) -> None:
        """Keep an episode (`Episode.to_json()`: `episode_id`, `symbol`, `exit_ts`, ...); the same
        `episode_id` twice keeps the first. A store without episodes says so (NotImplementedError)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no episodes: use the SQLite or Cosmos DB store")

    def episodes(
        self, *, symbol: str | None = None, since_ts: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Episodes whose trade closed at or after `since_ts`, oldest exit first (the newest `limit`
        of them when `limit` is given), of one symbol or all."""
        raise NotImplementedError(f"{type(self).__name__} keeps no episodes: use the SQLite or Cosmos DB store")


def episode_keys(episode: Mapping[str, Any]) -> tuple[str, str, int]:
    """An episode's id, symbol and exit time, or a ValueError naming the field that is missing or wrong."""
    episode_id, symbol, exit_ts = episode.get("episode_id"), episode.get("symbol"), episode.get("exit_ts")
    if not isinstance(episode_id, str) or not episode_id:
        raise ValueError(f"an episode needs an episode_id (a non-empty string), got {episode_id!r}")
    if not isinstance(symbol, str) or not symbol:
        raise ValueError(f"episode {episode_id}: needs a symbol, got {symbol!r}")
    if isinstance(exit_ts, bool) or not isinstance(exit_ts, int):
        raise ValueError(f"episode {episode_id}: exit_ts must be epoch seconds (an int), got {exit_ts!r}")
    return episode_id, symbol, exit_ts
