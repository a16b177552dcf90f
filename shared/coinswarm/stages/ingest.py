"""tick_ingest: fetch the newest closed candles per symbol, store them, hand on one message per symbol."""

from __future__ import annotations

from coinswarm.domain.gaps import find_gaps, gap_between
from coinswarm.ports.market import MarketData
from coinswarm.ports.state import StateStore
from coinswarm.stages.messages import CANDLES, CandlesReady, CycleTick, Message


class IngestStage:
    def __init__(self, market: MarketData, state: StateStore, *, timeframe_s: int, warmup_candles: int) -> None:
        self.market = market
        self.state = state
        self.timeframe_s = timeframe_s
        self.warmup_candles = warmup_candles

    def handle(self, tick: CycleTick) -> list[tuple[str, Message]]:
        return [(CANDLES, m) for s in tick.symbols if (m := self.ingest(tick, s)) is not None]

    def ingest(self, tick: CycleTick, symbol: str) -> CandlesReady | None:
        last = self.state.last_candle_ts(symbol, self.timeframe_s)
        since = None if last is None else last + self.timeframe_s
        candles = self.market.fetch_candles(symbol, self.timeframe_s, since_ts=since, until_ts=tick.ts)
        if since is None:
            candles = candles[-self.warmup_candles :]
        if not candles:
            return None
        self.state.put_candles(candles)
        gaps = [g.describe() for g in find_gaps(candles)]
        if last is not None and (g := gap_between(last, candles[0].ts, self.timeframe_s, symbol)) is not None:
            gaps.insert(0, g.describe())
        return CandlesReady(
            cycle_id=tick.cycle_id,
            symbol=symbol,
            candles=tuple(candles),
            quotes=tuple(self.market.quotes(symbol, tick.ts)),
            gaps=tuple(gaps),
            decide_each=tick.decide_each,
        )
