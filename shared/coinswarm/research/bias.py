"""The look-ahead check (`coinswarm check-bias`): does an agent's score at a bar depend on later bars?

Contract: `check_bias(agent, params, candles, ...)` scores the whole series once, then, at each sample
point k, scores the series cut after bar k with fresh agents, and returns every sampled bar whose
score (signal or confidence) differs between the two. Both passes go through the scoring stage the
cycle uses (the same gap handling, the same market view), in that order and in one process, so
whatever lets a score see the future is caught: the data path handing an agent later candles, state
an agent shares between instances or runs, a cache keyed too coarsely. An agent that reads data of
its own from elsewhere (a file, the network) is out of its reach: docs/research.md says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.agent_registry import build_agents
from coinswarm.domain.market_state import MarketStateTracker
from coinswarm.domain.models import AgentScore, Candle
from coinswarm.stages.agent_memory import AgentMemory, InProcessAgentMemory
from coinswarm.stages.messages import CandlesReady, ScoresReady
from coinswarm.stages.scoring import ScoringStage

TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Difference:
    bar: int
    ts: int
    full: AgentScore  # the score with the whole series behind it
    cut: AgentScore  # the score with nothing after this bar


@dataclass(frozen=True)
class BiasReport:
    agent: str
    symbol: str
    bars: int
    sampled: list[int]
    differences: list[Difference]

    @property
    def clean(self) -> bool:
        return not self.differences


def sample_points(bars: int, samples: int, first: int = 0) -> list[int]:
    """`samples` bar indices spread evenly over [first, bars - 2] (the last bar has no future to leak)."""
    last = bars - 2
    if last < first or samples < 1:
        return []
    if samples == 1 or last == first:
        return [last]
    step = (last - first) / (samples - 1)
    return sorted({first + round(i * step) for i in range(samples)})


def _scores(
    stage_for: Callable[[], ScoringStage], symbol: str, candles: Sequence[Candle]
) -> list[tuple[AgentScore, ...]]:
    stage = stage_for()
    out = stage.score(CandlesReady(cycle_id="bias", symbol=symbol, candles=tuple(candles), decide_each=True))
    (_, ready) = out[0]
    assert isinstance(ready, ScoresReady)
    return [s.scores for s in ready.scored]


def _differs(a: AgentScore, b: AgentScore) -> bool:
    return abs(a.signal - b.signal) > TOLERANCE or abs(a.confidence - b.confidence) > TOLERANCE


def check_bias(
    agent: str,
    params: Mapping[str, Any],
    candles: Sequence[Candle],
    *,
    samples: int = 40,
    max_bridged_gap: int = 1,
    on_sample: Callable[[int], None] | None = None,
) -> BiasReport:
    """Score `candles` whole, then cut after each sample point; see the module doc."""
    if len(candles) < 3:
        raise ValueError("the look-ahead check needs at least 3 candles")
    symbol, tf = candles[0].symbol, candles[0].timeframe_s
    build_agents({agent: 1.0}, {agent: dict(params)} if params else {})  # refuse a bad agent before any work

    def fresh() -> AgentMemory:
        agents, _ = build_agents({agent: 1.0}, {agent: dict(params)} if params else {})
        return AgentMemory(agents=agents, tracker=MarketStateTracker(50.0))

    def stage() -> ScoringStage:
        return ScoringStage(
            InProcessAgentMemory(),
            fresh,
            MemoryStore(),
            timeframe_s=tf,
            max_bridged_gap=max_bridged_gap,
            warmup_candles=1,
            primary_venue="paper",
            fee_bps={},
            track_market_state=False,
        )

    full = _scores(stage, symbol, candles)
    differences: list[Difference] = []
    points = sample_points(len(candles), samples)
    for n, k in enumerate(points, 1):
        cut = _scores(stage, symbol, candles[: k + 1])
        for f, c in zip(full[k], cut[k], strict=True):
            if _differs(f, c):
                differences.append(Difference(k, candles[k].ts, f, c))
        if on_sample is not None:
            on_sample(n)
    name = full[0][0].agent if full and full[0] else agent
    return BiasReport(agent=name, symbol=symbol, bars=len(candles), sampled=points, differences=differences)
