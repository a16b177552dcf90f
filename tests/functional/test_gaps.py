"""Gaps: reported, and no agent trades across a gap it cannot see through."""

from __future__ import annotations

from functional_builders import START, series, settings

from coinswarm.domain.models import Action
from coinswarm.stages.messages import SCORES
from coinswarm.wiring.runner import CycleRunner


def test_agents_start_afresh_after_a_long_gap_and_hold_until_warm(make_app) -> None:
    data = series(n=300, symbols=("BTC-USD",))
    candles = data["BTC-USD"]
    holed = {"BTC-USD": candles[:150] + candles[160:]}  # ten candles missing
    app, clock = make_app(settings(symbols=["BTC-USD"], committee__threshold=0.01, committee__quorum=2), holed)
    gaps: list[str] = []
    runner = CycleRunner(app, wiring="fused", tap=lambda t, m: gaps.extend(m.gaps) if t == SCORES else None)
    for c in holed["BTC-USD"][49:]:
        clock.set(c.close_ts)
        runner.run_cycle(c.close_ts)
    assert any("10 candles missing" in g for g in gaps), gaps
    assert any("agents start afresh after 10 missing candles" in g for g in gaps), gaps
    after_gap = candles[160].close_ts
    decisions = {d.ts: d for d in app.history.recent_decisions(10_000)}
    # the trend agent needs 101 candles to warm up again: the committee lacks a quorum meanwhile
    for k in range(0, 20):
        d = decisions[after_gap + 60 * k]
        assert d.action is Action.HOLD and "no quorum" in d.reason, (k, d.reason)
    assert any(d.action is not Action.HOLD for ts, d in decisions.items() if ts < after_gap)
    assert START  # the series starts where the builders say


def test_a_one_candle_gap_is_seen_through(make_app) -> None:
    data = series(n=200, symbols=("BTC-USD",))
    candles = data["BTC-USD"]
    holed = {"BTC-USD": candles[:120] + candles[121:]}
    app, clock = make_app(settings(symbols=["BTC-USD"]), holed)
    gaps: list[str] = []
    runner = CycleRunner(app, wiring="fused", tap=lambda t, m: gaps.extend(m.gaps) if t == SCORES else None)
    for c in holed["BTC-USD"][49:]:
        clock.set(c.close_ts)
        runner.run_cycle(c.close_ts)
    assert any("1 candles missing" in g or "1 candle missing" in g for g in gaps), gaps
    assert not any("afresh" in g for g in gaps)
