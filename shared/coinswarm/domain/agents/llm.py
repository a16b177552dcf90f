"""LLM: a committee member that asks a language model for a vote, and abstains whenever it cannot have
one (docs/llm-agent.md). Off by default: give it a weight to use it.

The agent never speaks HTTP. It describes the closed candle (`Question`: the learned agent's
features and the discretized market state) and hands it to an `Advisor`, which answers with a vote or
an abstention and a reason, and never raises. The advisor is injected: `advisor=` in code, or else
built from the agent's parameters by the factory the parameter `client` names ("module:callable";
by default the OpenAI-compatible chat completions adapter, `coinswarm.adapters.llm_chat`), once per
process and configuration.

- Answers are cached by market state: a state already answered for this symbol costs nothing.
- `every`: ask at most once per `every` candles; in between, the last answer stands (if fresh).
- Replays (backtests) only read recorded answers: the advisor refuses to call a model about a
  candle that is not the newest one (docs/llm-agent.md, "Backtests").
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.features import FEATURES, Features
from coinswarm.domain.market_state import MarketStateTracker
from coinswarm.domain.models import AgentScore, Candle

DEFAULT_CLIENT = "coinswarm.adapters.llm_chat:advisor_from_params"
MAX_CACHED = 256  # answers kept per symbol (by market state), the oldest dropped first


@dataclass(frozen=True, slots=True)
class Question:
    symbol: str
    ts: int  # the candle's close time
    timeframe_s: int
    close: float
    market_state: str
    features: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class Answer:
    signal: float = 0.0
    confidence: float = 0.0
    reason: str = ""
    abstained: bool = False  # True: `reason` says why there is no vote


class Advisor(Protocol):
    def ask(self, question: Question) -> Answer:
        """A vote or an abstention with its reason; never raises."""


_FACTORIES: dict[tuple[str, tuple[tuple[str, Any], ...]], Advisor] = {}


class LlmAgent(Agent):
    name = "llm"
    stateful = ("features", "tracker_state", "answers", "since_ask")

    def __init__(
        self,
        base_url: str = "",
        model: str = "",
        api_key_env: str = "",
        timeout_s: float = 8.0,
        max_calls_per_day: int = 200,
        max_tokens_per_day: int = 200_000,
        every: int = 1,
        recorded: str = "",
        client: str = DEFAULT_CLIENT,
        advisor: Advisor | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("llm: timeout_s must be above 0")
        if every < 1:
            raise ValueError("llm: every must be 1 or more (ask at most once per `every` candles)")
        if max_calls_per_day < 0 or max_tokens_per_day < 0:
            raise ValueError("llm: the daily limits must be 0 or more")
        self.every = every
        params = {
            "base_url": base_url,
            "model": model,
            "api_key_env": api_key_env,
            "timeout_s": timeout_s,
            "max_calls_per_day": max_calls_per_day,
            "max_tokens_per_day": max_tokens_per_day,
            "recorded": recorded,
        }
        self._advisor = advisor if advisor is not None else _advisor(client, params)
        self._tracker = MarketStateTracker()
        super().__init__()

    def reset(self) -> None:
        self.features = Features()
        self._tracker = MarketStateTracker()
        self.tracker_state: dict[str, Any] = {}
        self.answers: dict[str, list[Any]] = {}  # market state -> [signal, confidence, reason]
        self.since_ask = self.every  # ask on the first warm candle

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        row = self.features.update(candle)
        state = self._tracker.observe_key(candle)
        if row is None:
            return self.abstain("warming up")
        cached = self.answers.get(state)
        if cached is not None:
            return self.score(cached[0], cached[1], f"{cached[2]} [cached for this market state]")
        if self.since_ask + 1 < self.every:
            self.since_ask += 1
            return self.abstain(f"asks once per {self.every} candles")
        self.since_ask = 0
        answer = self._advisor.ask(
            Question(
                symbol=candle.symbol,
                ts=candle.close_ts,
                timeframe_s=candle.timeframe_s,
                close=candle.close,
                market_state=state,
                features=tuple(zip(FEATURES, row, strict=True)),
            )
        )
        if answer.abstained:  # reasons vary (seconds to wait, status codes): not one of the cached abstentions
            return self.score(0.0, 0.0, answer.reason)
        self.answers[state] = [answer.signal, answer.confidence, answer.reason]
        while len(self.answers) > MAX_CACHED:
            del self.answers[next(iter(self.answers))]
        return self.score(answer.signal, answer.confidence, answer.reason)

    def to_state(self) -> dict[str, Any]:
        self.tracker_state = {"rsi": self._tracker.rsi.to_state(), "volume": self._tracker.volume.to_state()}
        return super().to_state()

    def restore(self, state: Any) -> None:
        super().restore(state)
        tracker = MarketStateTracker()
        if self.tracker_state:
            tracker.rsi = type(tracker.rsi).from_state(self.tracker_state["rsi"])
            tracker.volume = type(tracker.volume).from_state(self.tracker_state["volume"])
        self._tracker = tracker


def _advisor(client: str, params: dict[str, Any]) -> Advisor:
    """The advisor the factory `client` ("module:callable") builds from `params`, once per process."""
    key = (client, tuple(sorted(params.items())))
    found = _FACTORIES.get(key)
    if found is None:
        module_name, _, attr = client.partition(":")
        if not attr:
            raise ValueError(f"llm: client {client!r} must be 'module:callable'")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"llm: cannot load the client {client!r}: {exc}") from None
        found = _FACTORIES[key] = factory(**params)
    return found


AGENT = LlmAgent
