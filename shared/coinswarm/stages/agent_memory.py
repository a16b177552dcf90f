"""What the scoring stage remembers between invocations: every agent's indicators and the market-state
tracker, as of the last candle it saw. Two homes: a document per symbol in the state store (what a
stateless cloud function uses) or plain objects in this process (what a backtest uses)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coinswarm.domain.agents.base import Agent
from coinswarm.domain.market_state import MarketStateTracker
from coinswarm.errors import ConflictError
from coinswarm.ports.state import StateStore


@dataclass(slots=True)
class AgentMemory:
    agents: list[Agent]
    tracker: MarketStateTracker
    last_ts: int | None = None
    version: int = 0

    def reset(self) -> None:
        for agent in self.agents:
            agent.reset()
        self.tracker.reset()

    def to_state(self) -> dict[str, Any]:
        return {
            "last_ts": self.last_ts,
            "agents": {a.name: a.to_state() for a in self.agents},
            "tracker": self.tracker.to_state(),
        }


MemoryFactory = Callable[[], AgentMemory]


class AgentMemoryStore(ABC):
    @abstractmethod
    def load(self, symbol: str, fresh: MemoryFactory) -> AgentMemory:
        """The symbol's memory, or a fresh one."""

    @abstractmethod
    def save(self, symbol: str, memory: AgentMemory) -> None:
        """Keep it; raises ConflictError if another invocation saved since this one loaded."""


class InProcessAgentMemory(AgentMemoryStore):
    def __init__(self) -> None:
        self._by_symbol: dict[str, AgentMemory] = {}

    def load(self, symbol: str, fresh: MemoryFactory) -> AgentMemory:
        memory = self._by_symbol.get(symbol)
        if memory is None:
            memory = self._by_symbol[symbol] = fresh()
        return memory

    def save(self, symbol: str, memory: AgentMemory) -> None:
        self._by_symbol[symbol] = memory


class StoredAgentMemory(AgentMemoryStore):
    """One document per symbol (`agents:<symbol>`), written with a version check. A document written
    for another set of agents (the configuration changed) is ignored: the agents warm up again."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def load(self, symbol: str, fresh: MemoryFactory) -> AgentMemory:
        memory = fresh()
        found = self.store.get(f"agents:{symbol}")
        if found is None:
            return memory
        memory.version = found.version
        doc = found.value
        if set(doc.get("agents", {})) != {a.name for a in memory.agents}:
            return memory
        try:
            for agent in memory.agents:
                agent.restore(doc["agents"][agent.name])
            memory.tracker.restore(doc["tracker"])
            memory.last_ts = doc["last_ts"]
        except (KeyError, TypeError, ValueError):
            memory = fresh()
            memory.version = found.version
        return memory

    def save(self, symbol: str, memory: AgentMemory) -> None:
        try:
            memory.version = self.store.put(f"agents:{symbol}", memory.to_state(), expected_version=memory.version)
        except ConflictError as exc:
            raise ConflictError(f"agent memory for {symbol} changed under this invocation: {exc}") from exc
