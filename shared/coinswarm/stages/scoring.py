"""agent_scoring: bring every agent up to date with the new candles and score the newest one."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from coinswarm.domain.agents.base import MarketView
from coinswarm.domain.models import AgentScore, Candle
from coinswarm.ports.state import StateStore
from coinswarm.stages.agent_memory import AgentMemory, AgentMemoryStore, MemoryFactory
from coinswarm.stages.messages import SCORES, CandlesReady, ScoresReady


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
    ) -> None:
        self.memory = memory
        self.fresh = fresh
        self.state = state
        self.timeframe_s = timeframe_s
        self.max_bridged_gap = max_bridged_gap
        self.warmup_candles = warmup_candles
        self.primary_venue = primary_venue
        self.fee_bps = dict(fee_bps)
        self._no_quotes = MarketView(primary_venue=primary_venue, quotes=(), fee_bps=self.fee_bps)

    def handle(self, msg: CandlesReady) -> list[tuple[str, BaseModel]]:
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
        scores: tuple[AgentScore, ...] = ()
        state_key = ""
        for candle in new:
            if memory.last_ts is not None:
                missing = (candle.ts - memory.last_ts) // self.timeframe_s - 1
                if missing > self.max_bridged_gap:
                    memory.reset()
                    gaps.append(f"{msg.symbol}: agents start afresh after {missing} missing candles")
            scores = tuple(agent.observe(candle, view) for agent in memory.agents)
            state_key = memory.tracker.observe(candle).key
            memory.last_ts = candle.ts
        self.memory.save(msg.symbol, memory)
        last = new[-1]
        return [
            (
                SCORES,
                ScoresReady(
                    cycle_id=msg.cycle_id,
                    symbol=msg.symbol,
                    candle=last,
                    settle_price=new[0].open,
                    settle_ts=new[0].ts,
                    scores=scores,
                    market_state=state_key,
                    gaps=tuple(gaps),
                ),
            )
        ]

    def _warm_up(self, memory: AgentMemory, symbol: str, *, before_ts: int) -> None:
        """A fresh memory with stored history behind it: replay that history first (no decisions)."""
        history: list[Candle] = self.state.recent_candles(
            symbol, self.timeframe_s, self.warmup_candles, until_ts=before_ts - 1
        )
        for candle in history:
            if (
                memory.last_ts is not None
                and candle.ts - memory.last_ts > (self.max_bridged_gap + 1) * self.timeframe_s
            ):
                memory.reset()
            for agent in memory.agents:
                agent.observe(candle)
            memory.tracker.observe(candle)
            memory.last_ts = candle.ts
