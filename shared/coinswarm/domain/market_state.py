"""A coarse, discrete description of the market for one symbol: the pattern cache's key and a label
kept with every decision (price bucket, volume regime, RSI zone)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from coinswarm.domain.indicators import RSI, SMA
from coinswarm.domain.models import Candle

MAX_KEYS = 65_536  # the remembered keys of observe_key (a few hundred price buckets x 4 x 4 in practice)


@dataclass(frozen=True, slots=True)
class MarketState:
    price_bucket: int
    volume_regime: str
    rsi_zone: str

    @property
    def key(self) -> str:
        return f"p{self.price_bucket}|vol:{self.volume_regime}|rsi:{self.rsi_zone}"


class MarketStateTracker:
    """Discretizes each candle: log-price buckets `bucket_bps` wide, volume against its 20-bar mean
    (thin < 0.5x, heavy > 1.5x), RSI zone (oversold < 30, overbought > 70, warming before 15 bars)."""

    __slots__ = ("_keys", "_log_step", "_states", "bucket_bps", "rsi", "volume")

    def __init__(self, bucket_bps: float = 50.0) -> None:
        if bucket_bps <= 0:
            raise ValueError("bucket_bps must be above 0")
        self.bucket_bps = bucket_bps
        self._log_step = math.log1p(bucket_bps / 1e4)
        self._keys: dict[tuple[int, str, str], str] = {}  # (bucket, regime, zone) -> MarketState.key
        self._states: dict[str, MarketState] = {}  # MarketState.key -> the state
        self.reset()

    def reset(self) -> None:
        self.rsi = RSI(14)
        self.volume = SMA(20)

    def observe(self, candle: Candle) -> MarketState:
        return self._states[self.observe_key(candle)]

    def observe_key(self, candle: Candle) -> str:
        """`observe(candle).key`, without building the state each time (a backtest asks once a bar)."""
        close, volume = candle.close, candle.volume
        rsi = self.rsi.update(close)
        mean_volume = self.volume.update(volume)
        if mean_volume is None:
            regime = "warming"
        elif mean_volume <= 0.0 or volume < 0.5 * mean_volume:
            regime = "thin"
        elif volume > 1.5 * mean_volume:
            regime = "heavy"
        else:
            regime = "normal"
        zone = "warming" if rsi is None else "oversold" if rsi < 30 else "overbought" if rsi > 70 else "neutral"
        parts = (math.floor(math.log(close) / self._log_step), regime, zone)
        key = self._keys.get(parts)
        if key is None:
            if len(self._keys) >= MAX_KEYS:
                self._keys.clear()
                self._states.clear()
            state = MarketState(*parts)
            key = self._keys[parts] = state.key
            self._states[key] = state
        return key

    def to_state(self) -> dict[str, Any]:
        return {"rsi": self.rsi.to_state(), "volume": self.volume.to_state()}

    def restore(self, state: dict[str, Any]) -> None:
        self.rsi = RSI.from_state(state["rsi"])
        self.volume = SMA.from_state(state["volume"])
