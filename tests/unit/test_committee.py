"""The committee's arithmetic, quorum, threshold, audit trail and pattern cache; the market state key."""

import math
import random

import pytest

from coinswarm.domain.committee import Committee, PatternCache
from coinswarm.domain.indicators import RSI, SMA
from coinswarm.domain.market_state import MarketStateTracker
from coinswarm.domain.models import Action, AgentScore
from coinswarm.marketdata.synthetic import synthetic_candles

W = {"trend": 1.0, "mean_reversion": 1.0, "arbitrage": 1.0}


def score(agent: str, signal: float, confidence: float) -> AgentScore:
    return AgentScore(agent=agent, signal=signal, confidence=confidence, reason=f"{agent} says so")


def decide(committee: Committee, *scores: AgentScore, ts: int = 60, state: str = "s"):
    return committee.decide(cycle_id="c1", symbol="BTC-USD", ts=ts, scores=scores, state_key=state)


def test_agreeing_confident_agents_buy_and_every_vote_is_kept() -> None:
    d = decide(Committee(W), score("trend", 0.9, 0.9), score("mean_reversion", 1.0, 0.8), score("arbitrage", 0, 0))
    # confidence = |1*0.9*0.9 + 1*0.8*1.0| / (1 + 1) = 0.805 (arbitrage abstains, so it is not counted)
    assert d.action is Action.BUY
    assert d.confidence == pytest.approx(0.805)
    assert [v.agent for v in d.votes] == ["trend", "mean_reversion", "arbitrage"]
    assert d.votes[0].reason == "trend says so"
    assert d.decision_id == "BTC-USD-60"


def test_sell_when_they_agree_downwards() -> None:
    d = decide(Committee(W), score("trend", -1.0, 0.9), score("mean_reversion", -0.9, 0.9))
    assert d.action is Action.SELL
    assert d.signal < 0


def test_below_threshold_holds_and_says_why() -> None:
    d = decide(Committee(W, threshold=0.8), score("trend", 0.9, 0.9), score("mean_reversion", -0.5, 0.5))
    assert d.action is Action.HOLD
    assert "below 0.80" in d.reason


def test_threshold_is_configurable() -> None:
    scores = (score("trend", 0.6, 0.6), score("mean_reversion", 0.6, 0.6))
    assert decide(Committee(W, threshold=0.8), *scores).action is Action.HOLD
    assert decide(Committee(W, threshold=0.3), *scores).action is Action.BUY


def test_quorum_counts_only_agents_that_vote() -> None:
    d = decide(Committee(W, quorum=2), score("trend", 1.0, 1.0), score("mean_reversion", 0.0, 0.0))
    assert d.action is Action.HOLD
    assert "no quorum: 1 of 2" in d.reason


def test_weights_tip_the_vote() -> None:
    scores = (score("trend", 1.0, 1.0), score("mean_reversion", -1.0, 1.0))
    assert decide(Committee(W, threshold=0.5), *scores).action is Action.HOLD
    heavy = Committee({"trend": 9.0, "mean_reversion": 1.0}, threshold=0.5)
    assert decide(heavy, *scores).action is Action.BUY  # (9 - 1) / 10 = 0.8


def test_an_agent_with_zero_weight_does_not_vote() -> None:
    c = Committee({"trend": 1.0, "mean_reversion": 0.0}, quorum=1, threshold=0.5)
    d = decide(c, score("trend", 1.0, 1.0), score("mean_reversion", -1.0, 1.0))
    assert d.action is Action.BUY and d.confidence == 1.0


def test_pattern_cache_serves_repeated_states_with_the_same_verdict() -> None:
    cache = PatternCache()
    cached, fresh = Committee(W, cache=cache), Committee(W)
    a = (score("trend", 0.91, 0.9), score("mean_reversion", 0.88, 0.84))
    b = (score("trend", 0.905, 0.9), score("mean_reversion", 0.876, 0.84))  # same state once quantized
    first = decide(cached, *a, ts=60)
    second = decide(cached, *b, ts=120)
    assert (cache.hits, cache.misses) == (1, 1)
    assert not first.from_cache and second.from_cache
    assert "[pattern cache]" in second.reason
    # a hit gives exactly what a fresh vote on the same scores gives
    again = decide(fresh, *b, ts=120)
    assert (second.action, second.signal, second.confidence) == (again.action, again.signal, again.confidence)


def test_pattern_cache_key_includes_the_market_state() -> None:
    cache = PatternCache()
    c = Committee(W, cache=cache)
    s = (score("trend", 0.5, 0.5), score("mean_reversion", 0.5, 0.5))
    decide(c, *s, state="p1|vol:normal|rsi:neutral")
    decide(c, *s, state="p2|vol:normal|rsi:neutral")
    decide(c, *s, state="p1|vol:normal|rsi:neutral")
    assert (cache.hits, cache.misses) == (1, 2)


def test_pattern_cache_is_bounded() -> None:
    cache = PatternCache(max_entries=2)
    c = Committee(W, cache=cache)
    for i in range(5):
        decide(c, score("trend", 0.1 * i, 0.5), score("mean_reversion", 0.1, 0.5))
    assert len(cache) == 2


@pytest.mark.parametrize(("kwargs", "message"), [({"quorum": 0}, "quorum"), ({"threshold": 0.0}, "threshold")])
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Committee(W, **kwargs)


def test_a_vote_remembered_from_an_earlier_bar_is_what_a_fresh_committee_decides() -> None:
    rng = random.Random(5)
    steps = [-1.0, -0.52, -0.1, 0.0, 0.33, 0.9, 1.0]
    busy = Committee(W, cache=PatternCache(max_entries=64))
    for ts in range(60, 60 * 800, 60):  # few distinct votes: most are remembered, some from the cache
        scores = tuple(score(a, rng.choice(steps), abs(rng.choice(steps))) for a in ("trend", "mean_reversion"))
        state = rng.choice(["p1|vol:normal|rsi:neutral", "p2|vol:thin|rsi:oversold"])
        got, want = decide(busy, *scores, ts=ts, state=state), decide(Committee(W), *scores, ts=ts, state=state)
        assert (got.action, got.signal, got.confidence, got.votes) == (
            want.action,
            want.signal,
            want.confidence,
            want.votes,
        )
        assert got.reason.removesuffix(" [pattern cache]") == want.reason
    assert busy.cache is not None and busy.cache.hits > 0


def test_the_market_state_key_alone_is_the_key_of_the_whole_state() -> None:
    candles = synthetic_candles("BTC-USD", 3_000, seed=3, start_ts=1_700_000_000, timeframe_s=300)
    whole, key_only = MarketStateTracker(), MarketStateTracker()
    rsi, volume, step = RSI(14), SMA(20), math.log1p(50.0 / 1e4)  # what the tracker's docstring promises
    keys = [key_only.observe_key(c) for c in candles]
    for c, key in zip(candles, keys, strict=True):
        state, r, v = whole.observe(c), rsi.update(c.close), volume.update(c.volume)
        regime = (
            "warming"
            if v is None
            else "thin"
            if v <= 0 or c.volume < 0.5 * v
            else "heavy"
            if c.volume > 1.5 * v
            else "normal"
        )
        zone = "warming" if r is None else "oversold" if r < 30 else "overbought" if r > 70 else "neutral"
        assert (state.price_bucket, state.volume_regime, state.rsi_zone) == (
            math.floor(math.log(c.close) / step),
            regime,
            zone,
        )
        assert state.key == key == f"p{state.price_bucket}|vol:{regime}|rsi:{zone}"
    assert len(set(keys)) > 20  # buckets, regimes and zones all move


def test_votes_are_quantized_as_round_does_ties_included() -> None:
    """Each vote is rounded to a step of 0.05 half to even, as round() does: scores that round alike share
    one remembered vote, scores that do not each get their own (ties such as 0.025 and 0.075 included)."""
    committee = Committee(W)
    rng = random.Random(5)
    values = [k / 40 for k in range(-40, 41)] + [rng.uniform(-1, 1) for _ in range(300)]
    for signal in values:
        for confidence in (abs(signal) or 0.01, 0.5, 0.025, 0.075, 1.0):
            ballot = committee.verdict("X", (score("trend", signal, confidence), score("arbitrage", 0, 0)), "s")
            assert ballot.quantized == (
                ("trend", round(signal * 20) / 20, round(confidence * 20) / 20),
                ("arbitrage", 0.0, 0.0),
            )


@pytest.mark.parametrize("agents", [1, 3, 5, 6, 9])
def test_distinct_quantized_votes_never_share_a_verdict_whatever_the_number_of_agents(agents: int) -> None:
    names = [f"a{i}" for i in range(agents)]
    committee = Committee(dict.fromkeys(names, 1.0), quorum=1)
    rng = random.Random(agents)
    seen: dict[tuple[tuple[str, float, float], ...], object] = {}
    for _ in range(2_000):
        scores = tuple(score(n, rng.choice((-1.0, 1.0, 0.05, -0.95)), rng.choice((0.05, 1.0, 0.95))) for n in names)
        ballot = committee.verdict("X", scores, "s")
        assert ballot.quantized is not None
        first = seen.setdefault(ballot.quantized, ballot)
        assert first is ballot  # the same quantized votes: the remembered ballot; others: their own
    assert len(seen) > 1
