"""Backfill: a candle the venue publishes late is asked for again on the next cycles and stored when it
comes; one that never comes is given up at the horizon, once. Whole cycles, through the runner.

The venue here is the replay of a synthetic series that withholds chosen candles until a later time
(`LateVenue`): what a venue does when it has not closed its books on a minute yet, or never will.
"""

from __future__ import annotations

import logging

import pytest
from functional_builders import series, settings

from coinswarm.domain.models import Action, Candle
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.ports.market import MarketData
from coinswarm.stages.messages import CANDLES, SCORES, CandlesReady, Message
from coinswarm.wiring.runner import CycleRunner

SYMBOL = "BTC-USD"
TF = 60
INGEST = "coinswarm.stages.ingest"


class LateVenue(MarketData):
    """The replay, less the candles in `late` until the request's `until_ts` reaches their time (never,
    for None). Counts the requests, with the `since_ts` each asked from."""

    venue = "late"
    label = "a venue that publishes some candles late"

    def __init__(self, candles: list[Candle], late: dict[int, int | None]) -> None:
        self.replay = ReplayMarketData({SYMBOL: candles}, label="late")
        self.late = late
        self.asked: list[int | None] = []

    def fetch_candles(self, symbol: str, timeframe_s: int, *, since_ts: int | None, until_ts: int) -> list[Candle]:
        self.asked.append(since_ts)
        found = self.replay.fetch_candles(symbol, timeframe_s, since_ts=since_ts, until_ts=until_ts)
        return [c for c in found if c.ts not in self.late or (self.late[c.ts] or 2**62) <= until_ts]


class Session:
    def __init__(self, make_app, late_at: dict[int, int | None], *, n: int = 200, **changes) -> None:
        self.candles = series(n=n, symbols=(SYMBOL,))[SYMBOL]
        self.venue = LateVenue(self.candles, {self.candles[i].ts: at for i, at in late_at.items()})
        self.app, self.clock = make_app(settings(symbols=[SYMBOL], **changes), {SYMBOL: self.candles})
        self.app.stages.ingest.market = self.venue  # the stage asks this venue
        self.seen: list[tuple[str, Message]] = []
        self.runner = CycleRunner(self.app, wiring="fused", tap=lambda t, m: self.seen.append((t, m)))

    def close(self, i: int) -> int:
        return self.candles[i].close_ts

    def run(self, first: int, last: int) -> None:
        """Cycles at the closes of candles first..last."""
        for i in range(first, last + 1):
            self.clock.set(self.close(i))
            self.runner.run_cycle(self.close(i))

    def handed_on(self) -> list[CandlesReady]:
        return [m for t, m in self.seen if t == CANDLES and isinstance(m, CandlesReady)]

    def gaps(self) -> list[str]:
        return [g for t, m in self.seen if t == SCORES for g in getattr(m, "gaps", ())]

    def stored(self, i: int, j: int) -> list[int]:
        kept = self.app.state.recent_candles(SYMBOL, TF, 1000, until_ts=self.candles[j].ts)
        return [c.ts for c in kept if c.ts >= self.candles[i].ts]

    def holes(self) -> list[list[int]]:
        found = self.app.state.get(f"holes:{SYMBOL}:{TF}")
        return list(found.value["holes"]) if found else []

    def memory_last_ts(self) -> int | None:
        return self.app.stages.scoring.memory.load(SYMBOL, self.app.stages.scoring.fresh).last_ts


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == INGEST]


def test_a_candle_published_late_is_backfilled_on_the_next_cycle(make_app, caplog) -> None:
    caplog.set_level(logging.INFO, logger=INGEST)
    s = Session(make_app, {120: None})
    s.venue.late[s.candles[120].ts] = s.close(122)  # the venue has it two closes late
    s.run(49, 125)
    c120 = s.candles[120]
    # the cycle at 121's close saw 121 without 120: a gap, reported, seen through (one candle)
    at_121 = next(m for m in s.handed_on() if m.candles[-1].ts == s.candles[121].ts)
    assert [c.ts for c in at_121.candles] == [s.candles[121].ts]
    assert any("1 candle missing" in g for g in at_121.gaps)
    # the next cycle asked from the hole on (the same request as the new candle) and stored it
    assert s.venue.asked[-4] == c120.ts
    assert s.stored(119, 123) == [s.candles[k].ts for k in range(119, 124)]
    at_122 = next(m for m in s.handed_on() if m.candles[-1].ts == s.candles[122].ts)
    assert [c.ts for c in at_122.candles] == [s.candles[122].ts]  # the agents get only what is new to them
    assert any("backfilled 1 candle" in g and "not rewound" in g for g in at_122.gaps)
    assert s.holes() == []
    assert s.venue.asked[-3:] == [s.candles[k].ts for k in (123, 124, 125)]  # no more asking once filled
    assert s.memory_last_ts() == s.candles[125].ts
    assert not any("afresh" in g for g in s.gaps())
    # every cycle was decided once; the late candle's own close never was (its cycle had nothing new)
    decided = {d.ts for d in s.app.history.recent_decisions(1000)}
    assert {s.close(i) for i in (119, 121, 122, 123)} <= decided
    assert s.close(120) not in decided
    log = messages(caplog)
    story = [
        next(i for i, m in enumerate(log) if "1 candle missing at" in m and "asked for again" in m),
        next(i for i, m in enumerate(log) if "backfill asked the venue again for 1 candle missing at" in m),
        next(i for i, m in enumerate(log) if "backfill filled 1 candle at" in m),
    ]
    assert story == sorted(story), log
    assert not any("gave up" in m for m in log)


def test_a_candle_that_never_comes_is_given_up_at_the_horizon_once(make_app, caplog) -> None:
    caplog.set_level(logging.INFO, logger=INGEST)
    s = Session(make_app, {100: None})
    s.app.stages.ingest.backfill_horizon = 5
    s.run(49, 115)
    hole = s.candles[100].ts
    # cycles 100 and 101 ask from 100 as the next candle (101 comes, 100 does not: a gap); 102..105 ask
    # from the hole (it opened within the last 5 candles); at 105 it is given up, and 106 on ask for new ones
    asked = s.venue.asked[100 - 49 :]  # the first request (no since, at 49) took the warm-up history
    assert asked[:6] == [hole] * 6
    assert asked[6:] == [s.candles[k].ts for k in range(106, 116)]
    assert s.holes() == []
    log = messages(caplog)
    gave_up = [m for m in log if "gave up" in m]
    assert len(gave_up) == 1 and "1 candle missing at" in gave_up[0] and "5 candles" in gave_up[0]
    assert len([m for m in log if "backfill asked the venue again" in m]) == 4
    assert s.stored(99, 101) == [s.candles[99].ts, s.candles[101].ts]
    assert s.memory_last_ts() == s.candles[115].ts


def test_a_long_hole_filled_later_is_stored_but_agents_that_started_afresh_are_not_rewound(make_app, caplog) -> None:
    caplog.set_level(logging.INFO, logger=INGEST)
    s = Session(
        make_app,
        {i: None for i in range(150, 160)},
        n=300,
        committee__threshold=0.01,
        committee__quorum=2,
    )
    for i in range(150, 160):
        s.venue.late[s.candles[i].ts] = s.close(162)
    s.run(49, 185)
    gaps = s.gaps()
    assert any("10 candles missing" in g for g in gaps), gaps
    assert any("agents start afresh after 10 missing candles" in g for g in gaps), gaps
    assert any("backfilled 10 candles" in g for g in gaps), gaps
    assert s.stored(149, 161) == [s.candles[k].ts for k in range(149, 162)]  # the history is whole again
    assert s.holes() == []
    # the agents are not rewound: after the gap they hold for lack of a quorum, warming up again
    decisions = {d.ts: d for d in s.app.history.recent_decisions(10_000)}
    for i in range(160, 186):
        d = decisions[s.close(i)]
        assert d.action is Action.HOLD and "no quorum" in d.reason, (i, d.reason)
    assert len([g for g in gaps if "afresh" in g]) == 1  # the backfill did not reset them again


def test_a_hole_older_than_the_horizon_when_found_is_reported_but_not_asked_for(make_app, caplog) -> None:
    caplog.set_level(logging.INFO, logger=INGEST)
    s = Session(make_app, {k: None for k in range(20, 23)})  # inside the warm-up history the first cycle takes in
    s.app.stages.ingest.backfill_horizon = 10
    s.run(60, 70)
    log = messages(caplog)
    assert any(
        "3 candles missing from" in m and "older than the backfill horizon: not asked for again" in m for m in log
    ), log
    assert s.holes() == []
    assert s.venue.asked[1:] == [s.candles[k].ts for k in range(61, 71)]  # every later cycle asks for new ones only
    assert not any("gave up" in m for m in log)


def test_the_stage_default_horizon_is_the_settings_default() -> None:
    from coinswarm.config.settings import Settings
    from coinswarm.stages.ingest import BACKFILL_HORIZON

    assert Settings().market.backfill_horizon == BACKFILL_HORIZON


def test_with_no_backfill_a_gap_is_still_logged_and_never_asked_for_again(make_app, caplog) -> None:
    caplog.set_level(logging.INFO, logger=INGEST)
    s = Session(make_app, {100: None})
    s.app.stages.ingest.backfill_horizon = 0
    s.run(95, 110)
    assert any("1 candle missing at" in m and "market.backfill_horizon is 0" in m for m in messages(caplog))
    assert s.venue.asked[1:] == [s.candles[k].ts for k in (96, 97, 98, 99, 100, 100, *range(102, 111))]
    assert s.holes() == []
    assert s.app.state.get(f"holes:{SYMBOL}:{TF}") is None
