"""Market data: closed candles for a symbol, and venues' last prices."""

from __future__ import annotations

from abc import ABC, abstractmethod

from coinswarm.domain.models import Candle, Quote


class MarketData(ABC):
    #: What the run banner says this source is ("coinbase live", "replay of FILE", "SYNTHETIC ...").
    label: str = ""
    venue: str = ""

    @abstractmethod
    def fetch_candles(self, symbol: str, timeframe_s: int, *, since_ts: int | None, until_ts: int) -> list[Candle]:
        """Closed candles with `ts >= since_ts` (None: the most recent ones) and `close_ts <= until_ts`."""

    def quotes(self, symbol: str, now: int) -> list[Quote]:
        """Last prices at each venue this source sees; one venue by default (none is fine too)."""
        return []
