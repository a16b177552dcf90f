"""agent_scoring: bring every agent up to date with the new candles and score them.

A live cycle scores the newest candle (the agents still take in every new one); a replay that
decides at every close (`decide_each`) scores each, in one pass over the window.

The agents' memory says which candles they took in, so a repeated message finds nothing new to score.
Where messages may be delivered again (a cloud function), the outbox (see stages.outbox) answers a
redelivery with the ScoresReady the first delivery handed on, which that memory alone could not.
"""

from __future__ import annotations

from collections.abc import Mapping

from coinswarm.domain.agents.base import MarketView
from coinswarm.domain.models import AgentScore, Candle
from coinswarm.ports.state import StateStore
from coinswarm.stages.agent_memory import AgentMemory, AgentMemoryStore, MemoryFactory
from coinswarm.stages.messages import SCORES, CandlesReady, Message, ScoredCandle, ScoresReady
from coinswarm.stages.outbox import NO_OUTBOX, Outbox


class ScoringStage:
    def __init__(
        self,
        memory: AgentMemoryStore,
        fresh: MemoryFactory,
        state: StateStore,
        *,
        timeframe_s: int,
        max_bridged_gap: int,
        warmup_candles: int,
        primary_venue: str,
        fee_bps: Mapping[str, float],
        track_market_state: bool = True,
        outbox: Outbox = NO_OUTBOX,
    ) -> None:
        self.memory = memory
        self.fresh = fresh
        self.state = state
        self.timeframe_s = timeframe_s
        self.max_bridged_gap = max_bridged_gap
        self.warmup_candles = warmup_candles
        self.primary_venue = primary_venue
        self.fee_bps = dict(fee_bps)
        self.track_market_state = track_market_state
        self.outbox = outbox
        self._no_quotes = MarketView(primary_venue=primary_venue, quotes=(), fee_bps=self.fee_bps)

    def handle(self, msg: CandlesReady) -> list[tuple[str, Message]]:
        return self.outbox.once("scored", msg, msg.symbol, lambda: self.score(msg))

    def score(self, msg: CandlesReady) -> list[tuple[str, Message]]:
        memory = self.memory.load(msg.symbol, self.fresh)
        new = [c for c in msg.candles if memory.last_ts is None or c.ts > memory.last_ts]
        if not new:
            return []  # a repeated delivery: these candles were scored already
        gaps = list(msg.gaps)
        if memory.last_ts is None:
            self._warm_up(memory, msg.symbol, before_ts=new[0].ts)
        view = (
            MarketView(primary_venue=self.primary_venue, quotes=msg.quotes, fee_bps=self.fee_bps)
            if msg.quotes
            else self._no_quotes
        )
        agents, tracker = memory.agents, memory.tracker
        track, each, tf, bridge = self.track_market_state, msg.decide_each, self.timeframe_s, self.max_bridged_gap
        scored: list[ScoredCandle] = []
        scores: tuple[AgentScore, ...] = ()
        state_key = ""
        last_ts = memory.last_ts
        observers = [agent.observe for agent in agents]  # (reset() keeps the same agents)
        state_of, keep = tracker.observe_key, scored.append
        for candle in new:
            ts = candle.ts
            if last_ts is not None and (ts - last_ts) // tf - 1 > bridge:
                memory.reset()
                gaps.append(f"{msg.symbol}: agents start afresh after {(ts - last_ts) // tf - 1} missing candles")
            scores = tuple([observe(candle, view) for observe in observers])
            if track:
                state_key = state_of(candle)
            last_ts = ts
            if each:
                keep(ScoredCandle(candle, scores, state_key, candle.open, ts))
        memory.last_ts = last_ts
        if not each:
            scored.append(ScoredCandle(new[-1], scores, state_key, new[0].open, new[0].ts))
        self.memory.save(msg.symbol, memory)
        return [(SCORES, ScoresReady(cycle_id=msg.cycle_id, symbol=msg.symbol, scored=tuple(scored), gaps=tuple(gaps)))]

    def _warm_up(self, memory: AgentMemory, symbol: str, *, before_ts: int) -> None:
        """A fresh memory with stored history behind it: replay that history first (no decisions)."""
        history: list[Candle] = self.state.recent_candles(
            symbol, self.timeframe_s, self.warmup_candles, until_ts=before_ts - 1
        )
        for candle in history:
            if (
                memory.last_ts is not None
                and (candle.ts - memory.last_ts) // self.timeframe_s - 1 > self.max_bridged_gap
            ):
                memory.reset()
            for agent in memory.agents:
                agent.observe(candle)
            memory.tracker.observe(candle)
            memory.last_ts = candle.ts
