"""Replay: fixed series served as closed candles, cheaply, one call per bar."""

from __future__ import annotations

import time

import pytest

from coinswarm.domain.models import Candle
from coinswarm.marketdata.replay import RECENT_LIMIT, ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.ports.market import MarketData

T0 = 1_700_000_000 - 1_700_000_000 % 60


def bars(symbol: str, n: int, tf: int = 60, start: int = T0, skip: tuple[int, ...] = ()) -> list[Candle]:
    return [
        Candle(symbol=symbol, ts=start + k * tf, open=1.0, high=2.0, low=0.5, close=1.5, volume=1.0, timeframe_s=tf)
        for k in range(n)
        if k not in skip
    ]


@pytest.fixture
def market() -> ReplayMarketData:
    return ReplayMarketData(
        {"BTC-USD": bars("BTC-USD", 1000), "ETH-USD": bars("ETH-USD", 10, start=T0 + 600, skip=(3, 4))},
        label="replay of test series",
    )


def test_is_a_market_data_source_with_a_label(market: ReplayMarketData) -> None:
    assert isinstance(market, MarketData)
    assert market.label == "replay of test series"
    assert market.symbols == ("BTC-USD", "ETH-USD")
    assert market.timeframe_s == 60
    assert (market.first_ts("BTC-USD"), market.last_ts("BTC-USD")) == (T0, T0 + 999 * 60)
    assert (market.first_ts("ETH-USD"), market.last_ts("ETH-USD")) == (T0 + 600, T0 + 600 + 9 * 60)
    assert market.quotes("BTC-USD", T0 + 600) == []


def test_returns_closed_candles_in_range(market: ReplayMarketData) -> None:
    got = market.fetch_candles("BTC-USD", 60, since_ts=T0 + 120, until_ts=T0 + 600)
    assert [c.ts for c in got] == [T0 + 60 * k for k in range(2, 10)]
    assert all(c.close_ts <= T0 + 600 for c in got)


def test_the_bar_still_open_is_not_returned(market: ReplayMarketData) -> None:
    got = market.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 659)
    assert got[-1].ts == T0 + 540  # the bar opening at T0 + 600 closes at T0 + 660
    assert market.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 59) == []


def test_since_between_bars_and_gaps(market: ReplayMarketData) -> None:
    got = market.fetch_candles("ETH-USD", 60, since_ts=T0 + 600 + 61, until_ts=T0 + 10_000)
    assert [c.ts for c in got] == [T0 + 600 + 60 * k for k in (2, 5, 6, 7, 8, 9)]


def test_empty_ranges(market: ReplayMarketData) -> None:
    assert market.fetch_candles("BTC-USD", 60, since_ts=T0 + 10**6, until_ts=T0 + 2 * 10**6) == []
    assert market.fetch_candles("BTC-USD", 60, since_ts=T0 + 600, until_ts=T0 + 300) == []
    assert market.fetch_candles("ETH-USD", 60, since_ts=None, until_ts=T0) == []


def test_without_since_returns_at_most_the_most_recent(market: ReplayMarketData) -> None:
    got = market.fetch_candles("BTC-USD", 60, since_ts=None, until_ts=T0 + 10**6)
    assert len(got) == RECENT_LIMIT == 500
    assert got[-1].ts == T0 + 999 * 60 and got[0].ts == T0 + 500 * 60
    assert len(market.fetch_candles("BTC-USD", 60, since_ts=None, until_ts=T0 + 60 * 30)) == 30
    small = ReplayMarketData({"BTC-USD": bars("BTC-USD", 100)}, label="x", recent_limit=20)
    assert len(small.fetch_candles("BTC-USD", 60, since_ts=None, until_ts=T0 + 10**6)) == 20


def test_returned_lists_are_copies(market: ReplayMarketData) -> None:
    got = market.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 600)
    got.clear()
    assert len(market.fetch_candles("BTC-USD", 60, since_ts=T0, until_ts=T0 + 600)) == 10


def test_unknown_symbol_names_the_known_ones(market: ReplayMarketData) -> None:
    with pytest.raises(KeyError, match=r"'SOL-USD'.*known symbols: BTC-USD, ETH-USD"):
        market.fetch_candles("SOL-USD", 60, since_ts=None, until_ts=T0 + 600)
    with pytest.raises(KeyError, match="known symbols"):
        market.first_ts("SOL-USD")


def test_a_timeframe_mismatch_is_refused(market: ReplayMarketData) -> None:
    with pytest.raises(ValueError, match="holds 60 s candles, asked for 300 s"):
        market.fetch_candles("BTC-USD", 300, since_ts=None, until_ts=T0 + 600)


def test_construction_checks_its_series() -> None:
    with pytest.raises(ValueError, match="no series"):
        ReplayMarketData({}, label="x")
    with pytest.raises(ValueError, match="empty"):
        ReplayMarketData({"BTC-USD": []}, label="x")
    with pytest.raises(ValueError, match="one timeframe"):
        ReplayMarketData({"BTC-USD": bars("BTC-USD", 3), "ETH-USD": bars("ETH-USD", 3, tf=300)}, label="x")
    with pytest.raises(ValueError, match="increasing time"):
        ReplayMarketData({"BTC-USD": list(reversed(bars("BTC-USD", 3)))}, label="x")
    with pytest.raises(ValueError, match="holds candles of ETH-USD"):
        ReplayMarketData({"BTC-USD": bars("ETH-USD", 3)}, label="x")


def test_synthetic_series_label() -> None:
    series = synthetic_candles("BTC-USD", 50, seed=7, start_ts=T0)
    market = ReplayMarketData({"BTC-USD": series}, label="SYNTHETIC series (seed 7), not market data")
    assert "SYNTHETIC" in market.label
    assert market.fetch_candles("BTC-USD", 60, since_ts=None, until_ts=series[-1].close_ts) == series


@pytest.mark.slow
def test_one_call_per_bar_over_a_long_series_is_cheap() -> None:
    n = 200_000
    market = ReplayMarketData({"BTC-USD": bars("BTC-USD", n)}, label="x")
    started = time.perf_counter()
    for k in range(1, n, 10):
        got = market.fetch_candles("BTC-USD", 60, since_ts=T0 + (k - 1) * 60, until_ts=T0 + (k + 1) * 60)
        assert len(got) == 2
    per_call = (time.perf_counter() - started) / (n / 10)
    assert per_call < 50e-6, f"{per_call * 1e6:.1f} us per call"
