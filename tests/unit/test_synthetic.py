"""Synthetic candles: reproducible, valid, lifelike enough to exercise every agent."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from itertools import pairwise

import pytest

from coinswarm.domain.models import Candle
from coinswarm.marketdata.synthetic import (
    CHOP,
    DOWN,
    SYNTHETIC_LABEL,
    UP,
    _generate,
    synthetic_candles,
    synthetic_label,
)

START = 1_700_000_000 - 1_700_000_000 % 60


def test_same_seed_same_series_and_other_seeds_differ() -> None:
    a = synthetic_candles("BTC-USD", 2000, seed=7, start_ts=START)
    assert a == synthetic_candles("BTC-USD", 2000, seed=7, start_ts=START)
    assert a != synthetic_candles("BTC-USD", 2000, seed=8, start_ts=START)
    assert synthetic_candles("BTC-USD", 500, seed=7, start_ts=START) == a[:500]


def test_reproducible_across_processes() -> None:
    code = (
        "from coinswarm.marketdata.synthetic import synthetic_candles as s;"
        f"print(repr([(c.ts, c.open, c.high, c.low, c.close, c.volume) "
        f"for c in s('ETH-USD', 300, seed=3, start_ts={START})]))"
    )
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
        for env in ({**os.environ, "PYTHONHASHSEED": "1"}, {**os.environ, "PYTHONHASHSEED": "2"})
    }
    assert len(runs) == 1
    here = synthetic_candles("ETH-USD", 300, seed=3, start_ts=START)
    assert runs.pop().strip() == repr([(c.ts, c.open, c.high, c.low, c.close, c.volume) for c in here])


@pytest.mark.parametrize("timeframe_s", [60, 300, 3600, 86400])
def test_valid_consecutive_candles(timeframe_s: int) -> None:
    start = START - START % timeframe_s
    candles = synthetic_candles("SOL-USD", 3000, seed=11, start_ts=start, timeframe_s=timeframe_s, start_price=150.0)
    assert len(candles) == 3000
    assert [c.ts for c in candles] == [start + k * timeframe_s for k in range(3000)]
    assert candles[0].open == 150.0
    for prev, c in pairwise(candles):
        assert c.open == prev.close
    for c in candles:
        assert c.symbol == "SOL-USD" and c.timeframe_s == timeframe_s
        assert Candle.model_validate(c.model_dump()) == c  # positive, OHLC consistent
        assert 0 < c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high
        assert c.volume > 0


def test_prices_stay_positive_and_bounded_over_a_long_run() -> None:
    candles = synthetic_candles("X-Y", 100_000, seed=1, start_ts=0, timeframe_s=3600, start_price=0.001)
    lows, highs = min(c.low for c in candles), max(c.high for c in candles)
    assert lows > 0.001 / 1000 and highs < 0.001 * 1000


def test_varied_regimes_of_lasting_trends_and_chop() -> None:
    candles, regimes = _generate("BTC-USD", 20_000, seed=7, start_ts=START, timeframe_s=60, start_price=60_000.0)
    assert set(regimes) == {UP, DOWN, CHOP}
    runs: list[tuple[str, int, int]] = []
    begin = 0
    for k in range(1, len(regimes) + 1):
        if k == len(regimes) or regimes[k] != regimes[begin]:
            runs.append((regimes[begin], begin, k))
            begin = k
    assert len(runs) >= 20
    assert statistics.median(end - start for _, start, end in runs) >= 40
    moves: dict[str, list[float]] = {UP: [], DOWN: [], CHOP: []}
    for regime, start, end in runs:
        if end - start >= 100:
            moves[regime].append(math.log(candles[end - 1].close / candles[start].open))
    assert statistics.median(moves[UP]) > 0.01
    assert statistics.median(moves[DOWN]) < -0.01
    assert abs(statistics.median(moves[CHOP])) < min(statistics.median(moves[UP]), -statistics.median(moves[DOWN]))


def returns(candles: list[Candle]) -> list[float]:
    return [math.log(b.close / a.close) for a, b in pairwise(candles)]


def autocorrelation(x: list[float], lag: int = 1) -> float:
    m = statistics.fmean(x)
    var = sum((a - m) ** 2 for a in x)
    return sum((x[i] - m) * (x[i + lag] - m) for i in range(len(x) - lag)) / var


def test_volatility_clusters_dips_revert_and_volume_follows_moves() -> None:
    candles = synthetic_candles("BTC-USD", 20_000, seed=7, start_ts=START, start_price=60_000.0)
    r = returns(candles)
    sd = statistics.pstdev(r)
    # volatility clusters: big moves follow big moves
    assert autocorrelation([abs(x) for x in r]) > 0.05
    # sharp dips and spikes, then most of them fade within 20 bars
    shocks = [k for k, x in enumerate(r) if abs(x) > 12 * sd and k + 21 < len(r)]
    assert len(shocks) >= 5
    reverted = [k for k in shocks if -r[k] * sum(r[k + 1 : k + 21]) > 0.4 * r[k] ** 2]
    assert len(reverted) >= 0.6 * len(shocks)
    # volume rises with the size of the move
    assert statistics.correlation([c.volume for c in candles[1:]], [abs(x) for x in r]) > 0.2
    # fat tails
    kurtosis = sum(x**4 for x in r) / len(r) / statistics.pvariance(r) ** 2
    assert kurtosis > 5


def test_label_says_it_is_synthetic() -> None:
    assert SYNTHETIC_LABEL.startswith("SYNTHETIC") and "not market" in SYNTHETIC_LABEL
    assert synthetic_label(7) == "SYNTHETIC series (seed 7), not market data"


def test_edge_cases_and_refusals() -> None:
    assert synthetic_candles("X-Y", 0, seed=1, start_ts=0) == []
    with pytest.raises(ValueError, match="n must not be negative"):
        synthetic_candles("X-Y", -1, seed=1, start_ts=0)
    with pytest.raises(ValueError, match="start_price"):
        synthetic_candles("X-Y", 5, seed=1, start_ts=0, start_price=0.0)
    with pytest.raises(ValueError, match="timeframe_s"):
        synthetic_candles("X-Y", 5, seed=1, start_ts=0, timeframe_s=0)
