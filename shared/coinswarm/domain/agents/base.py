"""The agent interface: one required method, `observe`, and state that survives between invocations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from coinswarm.domain.models import AgentScore, Candle, Quote


@dataclass(frozen=True, slots=True)
class MarketView:
    """What an agent may see beside the candle: venues' last prices and each venue's fee."""

    primary_venue: str = "paper"
    quotes: tuple[Quote, ...] = ()
    fee_bps: Mapping[str, float] = field(default_factory=dict)


EMPTY_VIEW = MarketView()


def clamp(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


class Agent(ABC):
    """Base of every agent.

    Subclasses set `name`, keep their indicators as attributes listed in `stateful` (each with
    `to_state()` / `from_state()`), and implement `observe`, which updates them with one closed candle
    and returns the agent's score. `reset()` forgets everything (after a gap the agent cannot see
    through); until its indicators are warm again the agent abstains.
    """

    name: ClassVar[str]
    stateful: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        if params:
            raise TypeError(f"agent {self.name!r} takes no parameters {sorted(params)}")
        self._abstentions: dict[str, AgentScore] = {}
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Create fresh indicators."""

    @abstractmethod
    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        """Take in one closed candle and give this agent's score for acting at its close."""

    def abstain(self, reason: str) -> AgentScore:
        """An abstention (confidence 0). Scores are immutable, so one per reason is made and reused."""
        score = self._abstentions.get(reason)
        if score is None:
            score = self._abstentions[reason] = AgentScore(agent=self.name, signal=0.0, confidence=0.0, reason=reason)
        return score

    def score(self, signal: float, confidence: float, reason: str) -> AgentScore:
        return AgentScore(agent=self.name, signal=clamp(signal), confidence=clamp(confidence, 0.0), reason=reason)

    def to_state(self) -> dict[str, Any]:
        return {attr: getattr(self, attr).to_state() for attr in self.stateful}

    def restore(self, state: Mapping[str, Any]) -> None:
        for attr in self.stateful:
            current = getattr(self, attr)
            setattr(self, attr, type(current).from_state(state[attr]))
