"""An agent written to peek, for the look-ahead check's tests: every instance shares one record of the
closes any instance has seen, and it votes by the NEXT bar's close when some earlier run saw it."""

from __future__ import annotations

from typing import ClassVar

from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.models import AgentScore, Candle


class PeekingAgent(Agent):
    name = "peeking"
    seen: ClassVar[dict[tuple[str, int], float]] = {}  # shared by every instance: the leak

    def reset(self) -> None:
        pass

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        PeekingAgent.seen[(candle.symbol, candle.ts)] = candle.close
        following = PeekingAgent.seen.get((candle.symbol, candle.ts + candle.timeframe_s))
        if following is None:
            return self.abstain("the next close is not known (yet)")
        return self.score(1.0 if following > candle.close else -1.0, 1.0, "the next close, peeked")
