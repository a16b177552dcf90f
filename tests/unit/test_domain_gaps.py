"""Gaps: whole bars missing between consecutive candles."""

from __future__ import annotations

import pytest

from coinswarm.domain.gaps import Gap, find_gaps, gap_between
from coinswarm.domain.models import Candle

T0 = 1_515_750_300  # 2018-01-12T09:45:00Z


def candle(ts: int, tf: int = 300, symbol: str = "ETH-BTC") -> Candle:
    return Candle(symbol=symbol, ts=ts, open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0, timeframe_s=tf)


def test_describe_is_a_human_line() -> None:
    gap = Gap(symbol="ETH-BTC", after_ts=T0 + 1200, before_ts=T0 + 2400, missing=3)
    assert gap.describe() == "ETH-BTC: 3 candles missing between 2018-01-12T10:05:00Z and 2018-01-12T10:25:00Z"
    assert "1 candle missing" in Gap("X-Y", T0, T0 + 600, 1).describe()


def test_gap_is_frozen() -> None:
    gap = Gap("X-Y", T0, T0 + 600, 1)
    with pytest.raises(AttributeError):
        gap.missing = 2


@pytest.mark.parametrize(
    ("step", "missing"),
    [(300, None), (600, 1), (1200, 3), (750, 1), (450, None), (0, None), (-300, None)],
)
def test_gap_between_counts_whole_missing_bars(step: int, missing: int | None) -> None:
    gap = gap_between(T0, T0 + step, 300, "ETH-BTC")
    if missing is None:
        assert gap is None
    else:
        assert gap == Gap("ETH-BTC", T0, T0 + step, missing)


def test_gap_between_refuses_a_non_positive_timeframe() -> None:
    with pytest.raises(ValueError, match="timeframe_s must be positive"):
        gap_between(T0, T0 + 600, 0, "X-Y")


def test_find_gaps_lists_every_gap_in_order() -> None:
    stamps = [T0, T0 + 300, T0 + 1200, T0 + 1500, T0 + 1800, T0 + 3000]
    gaps = find_gaps([candle(ts) for ts in stamps])
    assert gaps == [Gap("ETH-BTC", T0 + 300, T0 + 1200, 2), Gap("ETH-BTC", T0 + 1800, T0 + 3000, 3)]
    assert sum(g.missing for g in gaps) == 5


def test_find_gaps_on_short_or_continuous_series() -> None:
    assert find_gaps([]) == []
    assert find_gaps([candle(T0)]) == []
    assert find_gaps([candle(T0 + 60 * k, tf=60) for k in range(100)]) == []


def test_find_gaps_uses_the_candles_timeframe_and_symbol() -> None:
    gaps = find_gaps([candle(T0, tf=60, symbol="BTC-USD"), candle(T0 + 300, tf=60, symbol="BTC-USD")])
    assert gaps == [Gap("BTC-USD", T0, T0 + 300, 4)]
