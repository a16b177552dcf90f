"""agent_scoring: bring every agent up to date with the new candles and score them.

A live cycle scores the newest candle (the agents still take in every new one); a replay that
decides at every close (`decide_each`) scores each, in one pass over the window.

The agents' memory says which candles they took in, so a repeated message finds nothing new to score.
Where messages may be delivered again (a cloud function), the outbox (see stages.outbox) answers a
redelivery with the ScoresReady the first delivery handed on, which that memory alone could not.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

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
        seen = memory.last_ts
        new = list(msg.candles) if seen is None else [c for c in msg.candles if c.ts > seen]
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
        tf, bridge = self.timeframe_s, self.max_bridged_gap
        # Where the agents start afresh: before a candle more than `max_bridged_gap` bars after the one before.
        stamps = [c.ts for c in new]
        resets: list[int] = []
        last_ts = memory.last_ts if memory.last_ts is not None else stamps[0]
        too_far = max(bridge + 2, 1) * tf  # (ts - last_ts) // tf - 1 > bridge, in whole seconds
        for i, ts in enumerate(stamps):
            if ts - last_ts >= too_far:
                resets.append(i)
                gaps.append(f"{msg.symbol}: agents start afresh after {(ts - last_ts) // tf - 1} missing candles")
            last_ts = ts
        # Each agent takes in a run of candles in one pass, and zip makes each candle's tuple of scores:
        # the agents are independent of one another, and this costs a third of a tuple built a candle
        # at a time. (Each agent, and the tracker, sees the same candles in the same order as ever.)
        observers = [agent.observe for agent in memory.agents]  # (reset() keeps the same agents)
        state_of = memory.tracker.observe_key
        rows: list[tuple[AgentScore, ...]] = []
        keys: list[str] = []
        for start, end in pairwise(sorted({0, *resets, len(new)})):
            if start in resets:
                memory.reset()
            run = new[start:end]
            if observers:
                rows.extend(zip(*[[observe(candle, view) for candle in run] for observe in observers], strict=True))
            else:
                rows.extend([()] * len(run))
            if self.track_market_state:
                keys.extend([state_of(candle) for candle in run])
        memory.last_ts = stamps[-1]
        if not keys:
            keys = [""] * len(new)
        if msg.decide_each:
            scored = list(map(ScoredCandle, new, rows, keys, [c.open for c in new], stamps))
        else:
            scored = [ScoredCandle(new[-1], rows[-1], keys[-1], new[0].open, new[0].ts)]
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
