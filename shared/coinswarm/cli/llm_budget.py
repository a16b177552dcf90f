"""The LLM agent's month, for `coinswarm budget`: the calls and tokens its configured cadence costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coinswarm.config.settings import Settings

MONTH_S = 30 * 86_400
CHARS_PER_TOKEN = 4  # the usual rough figure for English and numbers


@dataclass(frozen=True, slots=True)
class LlmMonth:
    asks: int  # questions a month at the cadence, before the cache (every market state new: worst case)
    calls: int  # after the daily call limit
    tokens_per_call: int
    tokens: int  # after the daily token limit

    def to_json(self) -> dict[str, int]:
        return {"asks": self.asks, "calls": self.calls, "tokens_per_call": self.tokens_per_call, "tokens": self.tokens}


def llm_month(settings: Settings) -> LlmMonth | None:
    """None when the `llm` agent has no weight."""
    if settings.committee.weights.get("llm", 0.0) <= 0:
        return None
    from coinswarm.adapters.llm_chat import ANSWER_TOKENS, SYSTEM, prompt
    from coinswarm.domain.agents.llm import LlmAgent, Question
    from coinswarm.domain.agents.registry import parameters
    from coinswarm.learning.features import FEATURES

    defaults = {n: p.default for n, p in parameters(LlmAgent).items()}
    params: dict[str, Any] = {**defaults, **settings.agents.get("llm", {})}
    question = Question(
        "ETH-USD",
        1_700_000_000,
        settings.timeframe_s,
        2345.678,
        "p812|vol:normal|rsi:neutral",
        tuple((f, -0.012345) for f in FEATURES),
    )
    tokens_per_call = (len(SYSTEM) + len(prompt(question))) // CHARS_PER_TOKEN + ANSWER_TOKENS
    asks = len(settings.symbols) * (MONTH_S // settings.timeframe_s) // int(params["every"])
    calls = min(asks, int(params["max_calls_per_day"]) * 30)
    tokens = min(calls * tokens_per_call, int(params["max_tokens_per_day"]) * 30)
    return LlmMonth(asks, calls, tokens_per_call, tokens)


def print_llm(settings: Settings) -> None:
    month = llm_month(settings)
    if month is None:
        return
    capped = (
        " (capped by the daily limits)"
        if month.calls < month.asks or month.tokens < month.calls * month.tokens_per_call
        else ""
    )
    print(
        f"llm agent: at most {month.asks:,} questions a month at this cadence; {month.calls:,} calls and "
        f"{month.tokens:,} tokens (~{month.tokens_per_call} a call){capped}, fewer as repeated market states "
        "are answered from the cache; priced by your provider, not a free tier"
    )
