"""The files `coinswarm agent new NAME` writes: a documented agent and its test. `{name}` is the agent's
name, `{cls}` its class, `{path}` the agent file as the configuration names it."""

from __future__ import annotations

AGENT = '''"""{name}: how far the close stands from its recent average (momentum). Replace the rule with yours.

Coinswarm calls `observe` once for every closed candle of a symbol (each symbol has its own instance)
and counts the score it returns in the committee's vote. Only `observe` is required; docs/agents.md
explains the rest. To use this agent, add to coinswarm.toml:

    [committee.weights]
    {name} = 1.0

    [agents.{name}]
    path = "{path}"
    period = 20               # parameters: the keyword arguments of __init__

and run its test: python -m pytest {test_path}
"""

from __future__ import annotations

from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.indicators import SMA
from coinswarm.domain.models import AgentScore, Candle


class {cls}(Agent):
    """Signal: the close's distance from its `period`-candle average, in percent, over `full_pct`
    (a distance of `full_pct` percent is full conviction): above the average buys, below sells.
    Confidence: the same magnitude, at most 1."""

    name = "{name}"  # what its votes carry; [committee.weights] {name} weighs them

    def __init__(self, period: int = 20, full_pct: float = 2.0) -> None:
        # Refuse a bad parameter here: the configuration's error then names it (agents.{name}).
        if period < 2:
            raise ValueError(f"{name}: period must be at least 2, got {{period}}")
        if full_pct <= 0:
            raise ValueError(f"{name}: full_pct must be above 0, got {{full_pct}}")
        self.period, self.full_pct = period, full_pct
        # What the agent remembers: every indicator made here is saved between invocations and
        # returns to this fresh state after a gap in the candles (reset). No other method needed.
        self.average = SMA(period)
        super().__init__()

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        """Take in one closed candle; `view` holds the venues' last prices and fees (for arbitrage)."""
        average = self.average.update(candle.close)
        if average is None:
            return self.abstain(f"warming up: needs {{self.period}} candles")
        pct = (candle.close - average) / average * 100.0
        where = "above" if pct >= 0 else "below"
        return self.score(
            signal=pct / self.full_pct,  # clamped to [-1, 1]: -1 sell .. +1 buy
            confidence=abs(pct) / self.full_pct,  # clamped to [0, 1]; 0 abstains
            reason=f"close {{abs(pct):.2f}}% {{where}} its {{self.period}}-candle average",
        )


AGENT = {cls}
'''

TEST = '''"""The {name} agent's tests: python -m pytest {test_path}"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coinswarm.config.settings import Settings
from coinswarm.agent_registry import load_agent_file
from coinswarm.domain.models import AgentScore, Candle

AGENT_FILE = Path(__file__).with_name("{file}")
{cls} = load_agent_file(AGENT_FILE)


def candles(closes: list[float], symbol: str = "BTC-USD", timeframe_s: int = 60) -> list[Candle]:
    """Candles with these closes, each opening at the previous close."""
    out, prev = [], closes[0]
    for i, close in enumerate(closes):
        high, low = max(prev, close) * 1.001, min(prev, close) * 0.999
        out.append(Candle(symbol=symbol, ts=i * timeframe_s, open=prev, high=high, low=low, close=close, volume=1.0))
        prev = close
    return out


def rising(n: int) -> list[float]:
    return [100.0 * 1.002**i for i in range(n)]


def test_it_abstains_while_warming_up() -> None:
    first = {cls}().observe(candles([100.0])[0])
    assert first.abstains and "warming up" in first.reason


def test_scores_stay_in_bounds_and_carry_a_reason() -> None:
    agent = {cls}()
    for candle in candles(rising(40) + rising(40)[::-1]):
        score = agent.observe(candle)
        assert -1.0 <= score.signal <= 1.0 and 0.0 <= score.confidence <= 1.0
        assert score.reason and score.agent == "{name}"


def last_score(closes: list[float]) -> AgentScore:
    agent = {cls}()
    return [agent.observe(c) for c in candles(closes)][-1]


def test_it_buys_a_rise_and_sells_a_fall() -> None:
    assert last_score(rising(60)).signal > 0
    assert last_score(rising(60)[::-1]).signal < 0


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        {cls}(period=1)


def test_its_state_survives_a_round_trip_as_json() -> None:
    series = candles(rising(30) + rising(30)[::-1])
    before, after = series[:25], series[25:]
    kept = {cls}()
    saved = {cls}()
    for candle in before:
        kept.observe(candle)
        saved.observe(candle)
    restored = {cls}()
    restored.restore(json.loads(json.dumps(saved.to_state())))
    assert [restored.observe(c) for c in after] == [kept.observe(c) for c in after]


def test_reset_forgets_everything() -> None:
    agent = {cls}()
    for candle in candles(rising(40)):
        agent.observe(candle)
    agent.reset()
    assert agent.observe(candles([100.0])[0]).abstains


def test_the_configuration_takes_it() -> None:
    settings = Settings.model_validate(
        {{
            "committee": {{"weights": {{"trend": 1.0, "{name}": 1.0}}}},
            "agents": {{"{name}": {{"path": str(AGENT_FILE), "period": 10}}}},
        }}
    )
    assert settings.committee.weights["{name}"] == 1.0
'''
