"""Trend: the prevailing trend. How far the fast EMA (20) stands from the slow one (100), in ATRs, and whether
the slow EMA slopes the same way. The horizon is long on purpose: a short dip (what mean reversion buys)
barely moves it, so the two agents can agree on buying a dip in an uptrend."""

from __future__ import annotations

from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.indicators import ATR, EMA
from coinswarm.domain.models import AgentScore, Candle


class TrendAgent(Agent):
    """Signal: the EMA spread in ATRs over `full_spread` (1 ATR = full conviction).
    Confidence: the same magnitude, halved when the slow EMA's slope disagrees."""

    name = "trend"
    stateful = ("fast_ema", "slow_ema", "atr")

    def __init__(self, fast: int = 20, slow: int = 100, atr: int = 14, full_spread: float = 1.0) -> None:
        if not 1 <= fast < slow:
            raise ValueError(f"trend: need 1 <= fast < slow, got fast={fast} slow={slow}")
        if full_spread <= 0:
            raise ValueError("trend: full_spread must be above 0")
        self.fast, self.slow, self.atr_period, self.full_spread = fast, slow, atr, full_spread
        super().__init__()

    def reset(self) -> None:
        self.fast_ema = EMA(self.fast)
        self.slow_ema = EMA(self.slow)
        self.atr = ATR(self.atr_period)

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        slow_before = self.slow_ema.value
        fast = self.fast_ema.update(candle.close)
        slow = self.slow_ema.update(candle.close)
        atr = self.atr.update(candle.high, candle.low, candle.close)
        if fast is None or slow is None or atr is None or slow_before is None:
            return self.abstain(f"warming up: needs {max(self.slow, self.atr_period) + 1} candles")
        if atr <= 0.0:
            return self.abstain("no range in the recent candles (ATR is 0)")
        spread = (fast - slow) / atr
        slope = slow - slow_before
        agrees = slope * spread > 0.0
        strength = abs(spread) / self.full_spread
        if strength > 1.0:
            strength = 1.0
        where = "above" if spread >= 0 else "below"
        heading = "rising" if slope > 0 else "falling" if slope < 0 else "flat"
        return self.score(
            signal=spread / self.full_spread,
            confidence=strength if agrees else strength / 2,
            reason=f"fast EMA {abs(spread):.2f} ATR {where} slow, slow EMA {heading}",
        )


AGENT = TrendAgent
