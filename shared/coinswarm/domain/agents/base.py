"""The agent interface: one required method, `observe`; everything else has a default.

- `name`: the name the agent's scores carry; by default its class name in snake case without a
  trailing "Agent" (`MomentumAgent` -> "momentum").
- State: what an agent remembers between invocations (a cloud function keeps nothing in between).
  By default it is every attribute holding an indicator (an object with `to_state()` and a class
  method `from_state()`, as every `coinswarm.domain.indicators` class has) that exists once the agent
  is constructed. `stateful = ("a", "b")` names the attributes instead; an attribute named there may
  also hold plain JSON data (a number, a string, a list, a dict, None).
- `reset()`: forget everything (after a gap the agent cannot see through). By default every state
  attribute goes back to what it was right after construction; until its indicators are warm again
  the agent abstains.
- Parameters are the constructor's keyword arguments (`[agents.<name>]` in the configuration).
"""

from __future__ import annotations

import copy
import re
from abc import ABC, ABCMeta, abstractmethod
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
_new = object.__new__


def clamp(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


def is_indicator(value: object) -> bool:
    """Whether `value` saves and restores itself (`to_state()` and `type(value).from_state(state)`)."""
    return callable(getattr(value, "to_state", None)) and callable(getattr(type(value), "from_state", None))


def default_name(class_name: str) -> str:
    """`MeanReversionAgent` -> "mean_reversion"."""
    stem = class_name.removesuffix("Agent") or class_name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", stem).lower()


class _AgentType(ABCMeta):
    """Notes an agent's state once it is fully constructed (whatever its `__init__` does), which is
    what the default `reset()` returns to and what the default state is made of."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        agent = super().__call__(*args, **kwargs)
        agent._note_fresh_state()
        return agent


class Agent(ABC, metaclass=_AgentType):
    """Base of every agent: implement `observe`. See the module docstring for the defaults."""

    name: ClassVar[str]
    stateful: ClassVar[tuple[str, ...] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = default_name(cls.__name__)

    def __init__(self, **params: Any) -> None:
        if params:
            raise TypeError(f"agent {self.name!r} takes no parameters {sorted(params)}")
        self._abstentions: dict[str, AgentScore] = {}
        self.reset()

    @abstractmethod
    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        """Take in one closed candle and give this agent's score for acting at its close."""

    def reset(self) -> None:
        """Forget everything: every state attribute back to its value right after construction."""
        fresh: dict[str, Any] | None = self.__dict__.get("_fresh")
        if fresh is not None:
            self.restore(fresh)

    def abstain(self, reason: str) -> AgentScore:
        """An abstention (confidence 0). Scores are immutable, so one per reason is made and reused."""
        abstentions: dict[str, AgentScore] = self.__dict__.setdefault("_abstentions", {})
        score = abstentions.get(reason)
        if score is None:
            score = abstentions[reason] = AgentScore(agent=self.name, signal=0.0, confidence=0.0, reason=reason)
        return score

    def score(self, signal: float, confidence: float, reason: str) -> AgentScore:
        """A vote: `signal` clamped to [-1, 1] (sell .. buy), `confidence` to [0, 1]."""
        # clamp(), written out: an agent scores every candle
        signal = -1.0 if signal < -1.0 else 1.0 if signal > 1.0 else signal
        confidence = 0.0 if confidence < 0.0 else 1.0 if confidence > 1.0 else confidence
        name = self.name
        if not (
            type(signal) is float
            and type(confidence) is float
            and signal == signal  # not NaN
            and confidence == confidence
            and type(reason) is str
            and type(name) is str
        ):
            return AgentScore(name, signal, confidence, reason)  # converts or refuses, saying what is wrong
        # What AgentScore(...) makes of values it would accept as they are, at a third of the cost.
        made = _new(AgentScore)
        made.agent = name
        made.signal = signal
        made.confidence = confidence
        made.reason = reason
        return made

    def state_attributes(self) -> tuple[str, ...]:
        """The attributes that make up the agent's state: `stateful`, or else every indicator attribute
        present once the agent was constructed."""
        if self.stateful is not None:
            return self.stateful
        noted: tuple[str, ...] | None = self.__dict__.get("_state_attrs")
        if noted is not None:
            return noted
        return tuple(k for k, v in vars(self).items() if not k.startswith("_") and is_indicator(v))

    def to_state(self) -> dict[str, Any]:
        """The state as plain JSON data."""
        out: dict[str, Any] = {}
        for attr in self.state_attributes():
            value = getattr(self, attr)
            out[attr] = value.to_state() if is_indicator(value) else copy.deepcopy(value)
        return out

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back a state that `to_state()` gave."""
        for attr in self.state_attributes():
            current: Any = getattr(self, attr, None)
            if is_indicator(current):
                setattr(self, attr, type(current).from_state(state[attr]))
            else:
                setattr(self, attr, copy.deepcopy(state[attr]))

    def _note_fresh_state(self) -> None:
        self.__dict__.setdefault("_abstentions", {})
        self.__dict__["_state_attrs"] = self.state_attributes()
        self.__dict__["_fresh"] = self.to_state()
