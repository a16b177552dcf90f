"""The reference strategy as an agent: +1 when the fast SMA crosses above the slow one at a bar's close,
-1 when it crosses below, abstain otherwise (backtesting.py's `crossover`: strictly below, then strictly above)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.indicators import SMA
from coinswarm.domain.models import AgentScore, Candle


class SmaCrossAgent(Agent):
    name = "sma_cross"
    stateful = ("fast_sma", "slow_sma")

    def __init__(self, fast: int = 10, slow: int = 20) -> None:
        if not 1 <= fast < slow:
            raise ValueError(f"sma_cross: need 1 <= fast < slow, got fast={fast} slow={slow}")
        self.fast, self.slow = fast, slow
        super().__init__()
        self._warming, self._no_cross = self.abstain("warming up"), self.abstain("no cross")  # every bar gives one

    def reset(self) -> None:
        self.fast_sma = SMA(self.fast)
        self.slow_sma = SMA(self.slow)
        self._before: tuple[float | None, float | None] = (None, None)  # the two SMAs' values

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self._before = (self.fast_sma.value, self.slow_sma.value)

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        fast_before, slow_before = self._before  # the SMAs' values, kept as they change (a property read costs more)
        close = candle.close
        fast = self.fast_sma.update(close)
        slow = self.slow_sma.update(close)
        self._before = (fast, slow)
        if fast is None or slow is None or fast_before is None or slow_before is None:
            return self._warming
        if fast_before < slow_before and fast > slow:
            return self.score(1.0, 1.0, f"SMA{self.fast} crossed above SMA{self.slow}")
        if fast_before > slow_before and fast < slow:
            return self.score(-1.0, 1.0, f"SMA{self.fast} crossed below SMA{self.slow}")
        return self._no_cross


AGENT = SmaCrossAgent
