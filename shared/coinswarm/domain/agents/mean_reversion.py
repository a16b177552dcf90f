"""Mean reversion: a close far outside its Bollinger mean tends to come back, more so when RSI agrees."""

from __future__ import annotations

from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.indicators import RSI, Bollinger
from coinswarm.domain.models import AgentScore, Candle


class MeanReversionAgent(Agent):
    """Signal: minus the z-score over `full_z` (2 sigma below the mean = full buy).
    Confidence: |z| / full_z, times 0.6 unless RSI confirms (below `oversold` for a buy,
    above `overbought` for a sell)."""

    name = "mean_reversion"
    stateful = ("bands", "rsi")

    def __init__(
        self,
        period: int = 20,
        k: float = 2.0,
        rsi: int = 14,
        full_z: float = 2.0,
        oversold: float = 35.0,
        overbought: float = 65.0,
    ) -> None:
        if not 0 < oversold < overbought < 100:
            raise ValueError("mean_reversion: need 0 < oversold < overbought < 100")
        if full_z <= 0 or k <= 0:
            raise ValueError("mean_reversion: full_z and k must be above 0")
        self.period, self.k, self.rsi_period, self.full_z = period, k, rsi, full_z
        self.oversold, self.overbought = oversold, overbought
        super().__init__()

    def reset(self) -> None:
        self.bands = Bollinger(self.period, self.k)
        self.rsi = RSI(self.rsi_period)

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        bands = self.bands.update(candle.close)
        rsi = self.rsi.update(candle.close)
        if bands is None or rsi is None:
            return self.abstain(f"warming up: needs {max(self.period, self.rsi_period + 1)} candles")
        sigma = (bands.upper - bands.mid) / self.k
        z = 0.0 if sigma <= 0.0 else (candle.close - bands.mid) / sigma
        confirmed = (z < 0 and rsi < self.oversold) or (z > 0 and rsi > self.overbought)
        zone = "oversold" if rsi < self.oversold else "overbought" if rsi > self.overbought else "neutral"
        strength = abs(z) / self.full_z
        if strength > 1.0:
            strength = 1.0
        where = "below" if z < 0 else "above"
        return self.score(
            signal=-z / self.full_z,
            confidence=strength if confirmed else strength * 0.6,
            reason=f"close {abs(z):.1f} sigma {where} its {self.period}-bar mean, RSI {rsi:.0f} ({zone})",
        )


AGENT = MeanReversionAgent
