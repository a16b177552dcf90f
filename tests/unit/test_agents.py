"""Agents: bounded outputs, sensible direction, abstention, reasons, state round trips, the registry."""

import math
import random

import pytest

from coinswarm.agent_registry import UnknownAgentError, agent_class, build_agents
from coinswarm.domain.agents.arbitrage import ArbitrageAgent
from coinswarm.domain.agents.base import MarketView
from coinswarm.domain.agents.mean_reversion import MeanReversionAgent
from coinswarm.domain.agents.sma_cross import SmaCrossAgent
from coinswarm.domain.agents.trend import TrendAgent
from coinswarm.domain.models import AgentScore, Candle, Quote


def candles(closes: list[float], symbol: str = "BTC-USD") -> list[Candle]:
    out, prev = [], closes[0]
    for i, c in enumerate(closes):
        hi, lo = max(prev, c) * 1.001, min(prev, c) * 0.999
        out.append(Candle(symbol=symbol, ts=i * 60, open=prev, high=hi, low=lo, close=c, volume=1.0))
        prev = c
    return out


def walk(n: int, seed: int = 1, drift: float = 0.0) -> list[float]:
    rng, p, out = random.Random(seed), 100.0, []
    for _ in range(n):
        p *= math.exp(drift + rng.gauss(0, 0.002))
        out.append(p)
    return out


@pytest.mark.parametrize("agent", [TrendAgent(), MeanReversionAgent(), SmaCrossAgent()])
def test_scores_stay_in_bounds_and_carry_a_reason(agent) -> None:
    for c in candles(walk(600, seed=3)):
        s = agent.observe(c)
        assert -1.0 <= s.signal <= 1.0 and 0.0 <= s.confidence <= 1.0
        assert s.reason and s.agent == agent.name


def test_trend_follows_a_rising_market() -> None:
    agent = TrendAgent()
    scores = [agent.observe(c) for c in candles(walk(200, drift=0.003))]
    assert scores[0].abstains and "warming up" in scores[0].reason
    assert scores[-1].signal > 0.5 and scores[-1].confidence > 0.5
    assert "above slow" in scores[-1].reason and "rising" in scores[-1].reason


def test_trend_sells_a_falling_market() -> None:
    agent = TrendAgent()
    last = [agent.observe(c) for c in candles(walk(200, drift=-0.003))][-1]
    assert last.signal < -0.5


def test_mean_reversion_buys_a_sharp_drop_with_rsi_confirming() -> None:
    agent = MeanReversionAgent()
    closes = [100.0 + 0.1 * math.sin(i) for i in range(60)] + [99.0, 98.0, 97.0]
    last = [agent.observe(c) for c in candles(closes)][-1]
    assert last.signal > 0.9 and last.confidence > 0.9
    assert "below" in last.reason and "oversold" in last.reason


def test_mean_reversion_without_rsi_confirmation_is_less_sure() -> None:
    agent = MeanReversionAgent(oversold=5, overbought=95)
    closes = [100.0 + 0.1 * math.sin(i) for i in range(60)] + [99.0, 98.0, 97.0]
    last = [agent.observe(c) for c in candles(closes)][-1]
    assert last.confidence == pytest.approx(min(1.0, abs(last.signal)) * 0.6, abs=1e-9)


def test_arbitrage_abstains_with_one_venue() -> None:
    s = ArbitrageAgent().observe(candles([100.0])[0], MarketView(primary_venue="coinbase"))
    assert s.abstains and "one venue" in s.reason


def test_arbitrage_nets_both_fees() -> None:
    c = candles([100.0])[0]
    fees = {"coinbase": 60.0, "binance": 10.0}

    def view(other: float) -> MarketView:
        quotes = (
            Quote(venue="coinbase", symbol="BTC-USD", price=100.0, ts=0),
            Quote(venue="binance", symbol="BTC-USD", price=other, ts=0),
        )
        return MarketView(primary_venue="coinbase", quotes=quotes, fee_bps=fees)

    assert ArbitrageAgent().observe(c, view(100.75)).abstains  # 75 bps gap - 70 bps fees = 5 bps < 10
    cheap_here = ArbitrageAgent().observe(c, view(101.5))  # 150 - 70 = 80 bps edge: buy here
    assert cheap_here.signal > 0 and cheap_here.confidence == 1.0 and "cheaper than binance" in cheap_here.reason
    dear_here = ArbitrageAgent().observe(c, view(98.5))
    assert dear_here.signal < 0


def test_sma_cross_fires_only_on_the_cross_bar() -> None:
    agent = SmaCrossAgent(fast=2, slow=4)
    scores = [agent.observe(c) for c in candles([10, 10, 10, 9, 8, 7, 8, 10, 12, 12, 12])]
    fired = [(i, s.signal) for i, s in enumerate(scores) if not s.abstains]
    assert fired == [(7, 1.0)]


def test_state_round_trip_continues_identically() -> None:
    series = candles(walk(300, seed=9))
    for cls in (TrendAgent, MeanReversionAgent, SmaCrossAgent):
        a, b = cls(), cls()
        for c in series[:150]:
            a.observe(c)
            b.observe(c)
        restored = cls()
        restored.restore(b.to_state())
        for c in series[150:]:
            assert a.observe(c) == restored.observe(c)


def test_reset_forgets_everything() -> None:
    agent = TrendAgent()
    for c in candles(walk(100)):
        agent.observe(c)
    agent.reset()
    assert agent.observe(candles([100.0])[0]).abstains


def test_registry_builds_the_configured_agents_with_parameters() -> None:
    agents, weights = build_agents(
        {"trend": 2.0, "mean_reversion": 1.0, "arbitrage": 0.0}, {"trend": {"fast": 5, "slow": 9}}
    )
    assert [a.name for a in agents] == ["trend", "mean_reversion"]
    assert weights == {"trend": 2.0, "mean_reversion": 1.0}
    assert isinstance(agents[0], TrendAgent) and agents[0].fast == 5


def test_registry_explains_unknown_agents_and_bad_parameters() -> None:
    with pytest.raises(UnknownAgentError, match=r"no agent 'momentum'.*momentum\.py"):
        agent_class("momentum")
    with pytest.raises(UnknownAgentError, match="refuses fast = 30, slow = 10"):
        build_agents({"trend": 1.0}, {"trend": {"fast": 30, "slow": 10}})
    with pytest.raises(UnknownAgentError, match="without a weight"):
        build_agents({"trend": 1.0}, {"arbitrage": {}})


def test_an_agent_outside_coinswarm_by_dotted_path() -> None:
    agents, weights = build_agents({"coinswarm.domain.agents.trend:TrendAgent": 1.0}, {})
    assert agents[0].name == "trend" and weights == {"trend": 1.0}


class _Says(ArbitrageAgent):
    name = "says"


@pytest.mark.parametrize(("signal", "confidence"), [(0.25, 0.5), (-3.0, 2.0), (1, 0), (-1, 0.75), (-0.0, 1e-300)])
def test_a_score_is_what_the_checked_constructor_makes(signal: float, confidence: float) -> None:
    made = _Says().score(signal, confidence, "why")
    clamped = (max(-1.0, min(1.0, signal)), max(0.0, min(1.0, confidence)))
    assert made == AgentScore("says", *clamped, "why")
    assert type(made.signal) is float and type(made.confidence) is float


@pytest.mark.parametrize(("signal", "confidence"), [(math.nan, 0.5), (0.5, math.nan), (0.5, True)])
def test_a_score_that_is_not_a_number_is_refused_naming_the_field(signal: float, confidence: float) -> None:
    with pytest.raises(ValueError, match=r"'says': (signal|confidence) must be a number"):
        _Says().score(signal, confidence, "why")


def test_sma_cross_restored_at_any_bar_fires_where_one_that_never_stopped_does() -> None:
    series = candles(walk(120, seed=4))
    reference = SmaCrossAgent(fast=2, slow=5)
    expected = [reference.observe(c) for c in series]
    assert sum(not s.abstains for s in expected) >= 5  # crosses to get right, some right after a cut
    for cut in range(len(series)):
        before = SmaCrossAgent(fast=2, slow=5)
        for c in series[:cut]:
            before.observe(c)
        restored = SmaCrossAgent(fast=2, slow=5)
        restored.restore(before.to_state())
        assert [restored.observe(c) for c in series[cut:]] == expected[cut:], f"restored at bar {cut}"
