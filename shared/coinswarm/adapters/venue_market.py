"""Market data from the trading venue itself (`market.source = "venue"`): closed candles and the book top
through the same venue client the live broker uses, so the bot decides on the prices it trades at.

A book top older than `stale_after_s` is not passed on as a quote (logged instead): the arbitrage agent
must not weigh a price that is no longer true. Stale candles need no check of their own: the venue
answers only the candles it has, so a stale feed delivers no new candle, the cycle decides nothing for
that symbol, and the next cycle takes up the missing ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from coinswarm.adapters.venue_orders import VenueOrders
from coinswarm.domain.models import Candle, Quote
from coinswarm.errors import MarketDataUnavailableError, VenueError
from coinswarm.ports.market import MarketData

log = logging.getLogger("coinswarm.live")


class VenueMarketData(MarketData):
    def __init__(
        self,
        venue: VenueOrders,
        *,
        recent_limit: int = 300,
        stale_after_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if recent_limit < 1 or stale_after_s <= 0:
            raise ValueError("recent_limit must be at least 1 and stale_after_s positive")
        self.source = venue
        self.venue = venue.name
        self.label = f"{venue.name} live market data"
        self.recent_limit = recent_limit
        self.stale_after_s = stale_after_s
        self.clock = clock

    def fetch_candles(self, symbol: str, timeframe_s: int, *, since_ts: int | None, until_ts: int) -> list[Candle]:
        start = since_ts if since_ts is not None else until_ts - self.recent_limit * timeframe_s
        try:
            return self.source.candles(
                self.source.quirks.venue_symbol(symbol), timeframe_s, start, until_ts, label=symbol
            )
        except VenueError as exc:
            raise MarketDataUnavailableError(f"{exc}") from None

    def probe(self, symbol: str) -> None:
        """Ask the venue for `symbol`'s book top once: MarketDataUnavailableError when it cannot answer."""
        try:
            self.source.top(self.source.quirks.venue_symbol(symbol))
        except VenueError as exc:
            raise MarketDataUnavailableError(f"{exc}") from None

    def quotes(self, symbol: str, now: int) -> list[Quote]:
        try:
            top = self.source.top(self.source.quirks.venue_symbol(symbol))
        except VenueError as exc:
            log.warning("%s: no book top for %s this cycle (%s)", self.venue, symbol, exc.reason)
            return []
        age = self.clock() - top.ts
        if age > self.stale_after_s:
            log.warning(
                "%s: the book top of %s is %.0f s old (over %.0f s): stale, not used",
                self.venue,
                symbol,
                age,
                self.stale_after_s,
                extra={"venue": self.venue, "symbol": symbol, "age_s": round(age, 1)},
            )
            return []
        return [Quote(venue=self.venue, symbol=symbol, price=top.mid, ts=top.ts)]

    def close(self) -> None:
        self.source.close()
