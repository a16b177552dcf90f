"""The learned agent's features, computed one candle at a time from the O(1) indicators.

Contract: `Features().update(candle)` takes the next closed candle of one symbol and returns the
feature vector (floats in the order of `FEATURES`) known at its close, or None while any indicator is
warming up (`WARMUP` candles). The same object computes the training rows (over a whole file) and the
live rows (one candle per cycle), so a live cycle costs what a backtest bar costs, and a row never
reads a later candle. `to_state()` / `from_state()` save and restore it bit for bit (JSON), so it is
agent state like any indicator. Standard library only: the cloud function imports it.

Features (close-to-close, so scale free across symbols and price levels):
- `ret_1`, `ret_3`, `ret_12`, `ret_48`: log return over 1, 3, 12, 48 candles;
- `z_20`, `z_100`: z-score of the close in its last 20 / 100 closes;
- `rsi_14`: RSI(14) / 100 - 0.5;
- `atr_frac`: ATR(14) / close; `range_frac`: (high - low) / close;
- `ema_gap_fast`: (close - EMA(12)) / ATR; `ema_gap_slow`: (EMA(12) - EMA(48)) / ATR;
- `volume_z`: z-score of log(1 + volume) in its last 48 candles (the volume regime);
- `hour_sin`, `hour_cos`: the time of day of the close, on the unit circle.
"""

from __future__ import annotations

import math
from typing import Any, Self

from coinswarm.domain.indicators import ATR, EMA, RSI, ZScore
from coinswarm.domain.models import Candle

FEATURES: tuple[str, ...] = (
    "ret_1",
    "ret_3",
    "ret_12",
    "ret_48",
    "z_20",
    "z_100",
    "rsi_14",
    "atr_frac",
    "range_frac",
    "ema_gap_fast",
    "ema_gap_slow",
    "volume_z",
    "hour_sin",
    "hour_cos",
)
HORIZONS = (1, 3, 12, 48)
WARMUP = 100  # candles before the first row: the longest window (z_100)
_DAY = 86_400.0


class Features:
    """The feature state of one symbol; see the module docstring."""

    def __init__(self) -> None:
        self.closes: list[float] = []  # ring buffer of the last max(HORIZONS) + 1 closes
        self.pos = 0
        self.z20 = ZScore(20)
        self.z100 = ZScore(100)
        self.rsi = RSI(14)
        self.atr = ATR(14)
        self.ema_fast = EMA(12)
        self.ema_slow = EMA(48)
        self.volume = ZScore(48)

    def update(self, candle: Candle) -> list[float] | None:
        close = candle.close
        size = HORIZONS[-1] + 1
        closes = self.closes
        if len(closes) < size:
            closes.append(close)
        else:
            closes[self.pos] = close
            self.pos = (self.pos + 1) % size
        z20 = self.z20.update(close)
        z100 = self.z100.update(close)
        rsi = self.rsi.update(close)
        atr = self.atr.update(candle.high, candle.low, close)
        fast = self.ema_fast.update(close)
        slow = self.ema_slow.update(close)
        vol = self.volume.update(math.log1p(candle.volume))
        if (
            len(closes) < size
            or z20 is None
            or z100 is None
            or rsi is None
            or atr is None
            or fast is None
            or slow is None
            or vol is None
        ):
            return None
        newest = (self.pos - 1) % size  # once full, the newest close sits just before `pos`
        rets = [math.log(close / closes[(newest - h) % size]) for h in HORIZONS]
        unit = atr if atr > 0.0 else close * 1e-9
        angle = 2.0 * math.pi * ((candle.close_ts % _DAY) / _DAY)
        return [
            *rets,
            z20,
            z100,
            rsi / 100.0 - 0.5,
            atr / close,
            (candle.high - candle.low) / close,
            (close - fast) / unit,
            (fast - slow) / unit,
            vol,
            math.sin(angle),
            math.cos(angle),
        ]

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "Features",
            "closes": list(self.closes),
            "pos": self.pos,
            "z20": self.z20.to_state(),
            "z100": self.z100.to_state(),
            "rsi": self.rsi.to_state(),
            "atr": self.atr.to_state(),
            "ema_fast": self.ema_fast.to_state(),
            "ema_slow": self.ema_slow.to_state(),
            "volume": self.volume.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        if state.get("kind") != "Features":
            raise ValueError(f"state is for {state.get('kind')!r}, not Features")
        obj = cls()
        obj.closes = [float(c) for c in state["closes"]]
        obj.pos = int(state["pos"])
        obj.z20 = ZScore.from_state(state["z20"])
        obj.z100 = ZScore.from_state(state["z100"])
        obj.rsi = RSI.from_state(state["rsi"])
        obj.atr = ATR.from_state(state["atr"])
        obj.ema_fast = EMA.from_state(state["ema_fast"])
        obj.ema_slow = EMA.from_state(state["ema_slow"])
        obj.volume = ZScore.from_state(state["volume"])
        return obj
