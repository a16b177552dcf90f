"""The incremental indicators against `ta` 0.11 / pandas, bar for bar.

Every comparison runs over every bar where both sides are defined and first checks that both begin
reporting on the same bar. Tolerances: 1e-9 relative for prices, 1e-9 absolute with a floor of 1 for
bounded or centred values (RSI, %b, z-score): `abs(a - b) <= 1e-9 * max(1, abs(b))`.

One deliberate exception: pandas' rolling std (which `ta`'s Bollinger bands use) drifts on long
series, because it updates its running variance without ever re-anchoring it. On these 20,000-bar
random walks the z-score from it is up to 1.3e-8 off the exact value (4e-7 after 200,000 bars),
while ours stays within ~1e-12. So the std-derived outputs (%b, width, z-score) are checked against
an exact two-pass computation (numpy over sliding windows) to 1e-9, and against `ta`/pandas only to
`PANDAS_STD_RTOL`. The mean and the bands themselves (mid/upper/lower), EMA, RSI and ATR are held
to 1e-9 against `ta`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import ta
from numpy.lib.stride_tricks import sliding_window_view

from coinswarm.domain.indicators import ATR, EMA, RSI, SMA, Bollinger, BollingerBands, ZScore

RTOL = 1e-9
PANDAS_STD_RTOL = 1e-7  # pandas' own rolling-std drift, see the module docstring
N_BARS = 20_000
SCALES = {"altcoin-5e-5": 5e-5, "btc-30000": 30_000.0}
ETH_BTC = Path(__file__).resolve().parents[3] / "shared/data/ohlcv/ETH_BTC-5m.csv.gz"


@cache
def ohlc(base: float, n: int = N_BARS, seed: int = 7) -> pd.DataFrame:
    """A geometric random walk around `base`, with consistent OHLC (high >= open, close >= low)."""
    rng = np.random.default_rng(seed)
    close = base * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.concatenate(([base], close[:-1]))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, 0.001, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, 0.001, n)))
    df = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close})
    assert (df.high >= df[["open", "close"]].max(axis=1)).all()
    assert (df.low <= df[["open", "close"]].min(axis=1)).all()
    return df


def as_array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=float)


def assert_matches(
    name: str, mine: Sequence[float | None], ref: Any, *, rtol: float = RTOL, floor: float = 0.0
) -> float:
    """Same first reporting bar, then |mine - ref| <= rtol * max(floor, |ref|) wherever both are defined."""
    got = as_array(mine)
    want = np.asarray(ref, dtype=float)
    assert got.shape == want.shape
    first_mine = int(np.argmax(~np.isnan(got)))
    first_ref = int(np.argmax(~np.isnan(want)))
    assert first_mine == first_ref, f"{name}: we report from bar {first_mine}, the reference from {first_ref}"
    assert not np.isnan(got[first_mine:]).any(), f"{name}: a None after warm-up"
    both = ~np.isnan(got) & ~np.isnan(want)
    assert both.sum() > 0.99 * (len(got) - first_mine), f"{name}: the reference is undefined too often"
    err = np.abs(got - want)[both] / np.maximum(floor, np.abs(want[both]))
    worst = int(np.argmax(err))
    assert err[worst] <= rtol, (
        f"{name}: error {err[worst]:.3g} at bar {np.flatnonzero(both)[worst]}: "
        f"{got[both][worst]!r} vs {want[both][worst]!r}"
    )
    return float(err.max())


def exact_rolling(close: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and population std by the two-pass formula over each window (NaN while warming)."""
    windows = sliding_window_view(close, period)
    mean = windows.mean(axis=1)
    std = np.sqrt(((windows - mean[:, None]) ** 2).mean(axis=1))
    pad = np.full(period - 1, math.nan)
    return np.concatenate((pad, mean)), np.concatenate((pad, std))


def run_bands(close: np.ndarray, period: int, k: float) -> list[BollingerBands | None]:
    return list(map(Bollinger(period, k).update, close.tolist()))


def field(bands: list[BollingerBands | None], name: str) -> list[float | None]:
    return [None if b is None else getattr(b, name) for b in bands]


scales = pytest.mark.parametrize("base", list(SCALES.values()), ids=list(SCALES))


# --- against ta / pandas on long random walks ------------------------------------------------------


@scales
@pytest.mark.parametrize("period", [1, 20, 50])
def test_sma_matches_ta(base: float, period: int) -> None:
    close = ohlc(base).close
    mine = list(map(SMA(period).update, close.tolist()))
    assert_matches("SMA", mine, ta.trend.SMAIndicator(close, period).sma_indicator())


@scales
@pytest.mark.parametrize("period", [1, 12, 26])
def test_ema_matches_ta(base: float, period: int) -> None:
    close = ohlc(base).close
    mine = list(map(EMA(period).update, close.tolist()))
    ref = ta.trend.EMAIndicator(close, period).ema_indicator()
    assert_matches("EMA", mine, ref)
    assert mine[period - 1] is not None and (period == 1 or mine[period - 2] is None)


@scales
@pytest.mark.parametrize("period", [2, 14])
def test_rsi_matches_ta(base: float, period: int) -> None:
    close = ohlc(base).close
    mine = list(map(RSI(period).update, close.tolist()))
    assert_matches("RSI", mine, ta.momentum.RSIIndicator(close, period).rsi(), floor=1.0)
    assert mine[period - 2] is None and mine[period - 1] is not None  # reports from the period-th close


@scales
def test_atr_matches_ta(base: float) -> None:
    df = ohlc(base)
    period = 14
    atr = ATR(period)
    mine = [atr.update(h, lo, c) for h, lo, c in zip(df.high.tolist(), df.low.tolist(), df.close.tolist(), strict=True)]
    ref = ta.volatility.AverageTrueRange(df.high, df.low, df.close, period).average_true_range().to_numpy()
    # ta writes 0.0, not NaN, on the warm-up bars: treat those as "not reporting yet".
    assert (ref[: period - 1] == 0.0).all() and ref[period - 1] > 0.0
    ref = np.where(np.arange(len(ref)) < period - 1, math.nan, ref)
    assert_matches("ATR", mine, ref)


@scales
@pytest.mark.parametrize(("period", "k"), [(20, 2.0), (10, 1.5)])
def test_bollinger_matches_ta(base: float, period: int, k: float) -> None:
    close = ohlc(base).close
    bands = run_bands(close.to_numpy(), period, k)
    ref = ta.volatility.BollingerBands(close, period, k)
    assert_matches("mid", field(bands, "mid"), ref.bollinger_mavg())
    assert_matches("upper", field(bands, "upper"), ref.bollinger_hband())
    assert_matches("lower", field(bands, "lower"), ref.bollinger_lband())
    # ta's wband is in percent (x 100); ours is a fraction.
    ta_width = ref.bollinger_wband() / 100
    assert_matches("pct_b vs ta", field(bands, "pct_b"), ref.bollinger_pband(), rtol=PANDAS_STD_RTOL, floor=1)
    assert_matches("width vs ta", field(bands, "width"), ta_width, rtol=PANDAS_STD_RTOL)
    # ... and to 1e-9 against the exact two-pass values.
    mean, std = exact_rolling(close.to_numpy(), period)
    upper, lower = mean + k * std, mean - k * std
    assert_matches("pct_b vs exact", field(bands, "pct_b"), (close - lower) / (upper - lower), floor=1)
    assert_matches("width vs exact", field(bands, "width"), (upper - lower) / mean)


@scales
@pytest.mark.parametrize("period", [5, 20, 100])
def test_zscore_matches_pandas(base: float, period: int) -> None:
    close = ohlc(base).close
    mine = list(map(ZScore(period).update, close.tolist()))
    roll = close.rolling(period)
    ref = (close - roll.mean()) / roll.std(ddof=0)
    assert np.isfinite(ref[period - 1 :]).all()
    assert_matches("z vs pandas", mine, ref, rtol=PANDAS_STD_RTOL, floor=1)
    mean, std = exact_rolling(close.to_numpy(), period)
    assert_matches("z vs exact", mine, (close - mean) / std, floor=1)


@pytest.mark.slow
@scales
def test_rolling_statistics_do_not_drift_over_200k_bars(base: float) -> None:
    """The re-anchored window sums stay exact where a running sum of squares would not."""
    close = ohlc(base, n=200_000, seed=11).close
    values = close.to_numpy()
    period = 20
    mean, std = exact_rolling(values, period)
    assert_matches("SMA vs pandas", list(map(SMA(period).update, close.tolist())), close.rolling(period).mean())
    assert_matches("z vs exact", list(map(ZScore(period).update, close.tolist())), (values - mean) / std, floor=1)
    bands = run_bands(values, period, 2.0)
    assert_matches("width vs exact", field(bands, "width"), 4 * std / mean)
    assert_matches("upper vs exact", field(bands, "upper"), mean + 2 * std)


# --- real data -------------------------------------------------------------------------------------


@pytest.mark.skipif(not ETH_BTC.exists(), reason=f"real-data file {ETH_BTC} is missing")
def test_all_indicators_match_ta_on_eth_btc() -> None:
    df = pd.read_csv(ETH_BTC)
    assert (df.high >= df[["open", "close"]].max(axis=1)).all()
    high, low, close, volume = (df[c].tolist() for c in ("high", "low", "close", "volume"))
    assert_matches("SMA", list(map(SMA(20).update, close)), ta.trend.SMAIndicator(df.close, 20).sma_indicator())
    assert_matches("volume SMA", list(map(SMA(20).update, volume)), df.volume.rolling(20).mean())
    assert_matches("EMA", list(map(EMA(20).update, close)), ta.trend.EMAIndicator(df.close, 20).ema_indicator())
    assert_matches("RSI", list(map(RSI(14).update, close)), ta.momentum.RSIIndicator(df.close, 14).rsi(), floor=1)
    atr = ATR(14)
    ref_atr = ta.volatility.AverageTrueRange(df.high, df.low, df.close, 14).average_true_range().to_numpy(copy=True)
    ref_atr[:13] = math.nan  # ta's 0.0 placeholders
    assert_matches("ATR", [atr.update(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)], ref_atr)
    # A few thousand bars are short enough for pandas' rolling std to stay within 1e-9 too.
    bands = run_bands(df.close.to_numpy(), 20, 2.0)
    ref = ta.volatility.BollingerBands(df.close, 20, 2)
    assert_matches("mid", field(bands, "mid"), ref.bollinger_mavg())
    assert_matches("upper", field(bands, "upper"), ref.bollinger_hband())
    assert_matches("lower", field(bands, "lower"), ref.bollinger_lband())
    assert_matches("pct_b", field(bands, "pct_b"), ref.bollinger_pband(), floor=1)
    assert_matches("width", field(bands, "width"), ref.bollinger_wband() / 100)
    roll = df.close.rolling(20)
    ref_z = (df.close - roll.mean()) / roll.std(ddof=0)
    assert_matches("z", list(map(ZScore(20).update, close)), ref_z, floor=1)


# --- state round trip ------------------------------------------------------------------------------


def _close(ind: Any, bar: Any) -> Any:
    return ind.update(bar.close)


def _hlc(ind: Any, bar: Any) -> Any:
    return ind.update(bar.high, bar.low, bar.close)


def _bar_feeders() -> dict[str, tuple[Callable[[], Any], Callable[[Any, Any], Any]]]:
    return {
        "SMA": (lambda: SMA(20), _close),
        "EMA": (lambda: EMA(20), _close),
        "RSI": (lambda: RSI(14), _close),
        "Bollinger": (lambda: Bollinger(20, 2.0), _close),
        "ZScore": (lambda: ZScore(20), _close),
        "ATR": (lambda: ATR(14), _hlc),
    }


@pytest.mark.parametrize("kind", list(_bar_feeders()))
@pytest.mark.parametrize("base", list(SCALES.values()), ids=list(SCALES))
def test_restored_state_continues_bit_for_bit(kind: str, base: float) -> None:
    make, feed = _bar_feeders()[kind]
    bars = list(ohlc(base, n=600, seed=3).itertuples())
    reference = make()
    expected = [feed(reference, bar) for bar in bars]
    # Cut points: before any bar, mid warm-up, at and around the first value, around re-anchors, late.
    for cut in (0, 1, 5, 12, 13, 14, 19, 20, 21, 39, 40, 41, 59, 60, 61, 333):
        ind = make()
        got = [feed(ind, bar) for bar in bars[:cut]]
        state = ind.to_state()
        restored = type(ind).from_state(json.loads(json.dumps(state, allow_nan=False)))
        assert restored.to_state() == state
        assert restored.value == ind.value and restored.ready == ind.ready
        got += [feed(restored, bar) for bar in bars[cut:]]
        assert got == expected, f"{kind}: diverged after a restore at bar {cut}"
        assert restored.to_state() == reference.to_state()
        assert restored.value == expected[-1]


def test_from_state_rejects_another_indicator() -> None:
    with pytest.raises(ValueError, match="not EMA"):
        EMA.from_state(SMA(3).to_state())


# --- edge cases ------------------------------------------------------------------------------------


# 210.60534509000874 is one of the values whose exactly rounded 20-fold sum, divided by 20, is not the
# value itself: a mean computed from sums alone would leave a spurious non-zero std there.
AWKWARD_CONSTANT = 210.60534509000874


@pytest.mark.parametrize("x", [0.0123, AWKWARD_CONSTANT], ids=["plain", "sum-does-not-round-trip"])
def test_constant_series(x: float) -> None:
    if x == AWKWARD_CONSTANT:
        assert math.fsum([x] * 20) / 20 != x  # the premise of this case
    n = 60
    close = pd.Series([x] * n)
    # what ta says about a constant series: RSI 100, %b undefined (NaN), width 0, ATR 0
    ta_rsi = ta.momentum.RSIIndicator(close, 14).rsi()
    ta_bb = ta.volatility.BollingerBands(close, 20, 2)
    ta_atr = ta.volatility.AverageTrueRange(close, close, close, 14).average_true_range()
    assert (ta_rsi[13:] == 100.0).all()
    assert ta_bb.bollinger_pband()[19:].isna().all() and (ta_bb.bollinger_wband()[19:] == 0.0).all()
    assert (ta_atr == 0.0).all()
    assert (close.rolling(20).std(ddof=0)[19:] == 0.0).all()

    sma, ema, rsi, bb, z, atr = SMA(20), EMA(20), RSI(14), Bollinger(20, 2.0), ZScore(20), ATR(14)
    for i in range(n):
        assert sma.update(x) == (x if i >= 19 else None)
        assert ema.update(x) == (x if i >= 19 else None)
        assert rsi.update(x) == (100.0 if i >= 13 else None)
        assert z.update(x) == (0.0 if i >= 19 else None)
        assert atr.update(x, x, x) == (0.0 if i >= 13 else None)
        assert bb.update(x) == (BollingerBands(x, x, x, 0.5, 0.0) if i >= 19 else None)


@pytest.mark.parametrize("phase", range(20))
def test_flat_stretch_after_moves_has_exactly_zero_std(phase: int) -> None:
    """Identical closes filling the window after a move (common on illiquid pairs) give a std of exactly 0.

    `phase` shifts the flat stretch against the periodic recomputation of the window sums. pandas 3.1
    does not always manage this: its running variance can keep a residue from the earlier moves (a std
    of 8.7e-5 at a price of 28,486 for phase 0), which would make z and %b noise.
    """
    moves = ohlc(30_000.0, n=200 + phase).close.tolist()
    flat = AWKWARD_CONSTANT  # a new price (see test_constant_series), then no trade for 30 bars
    series = [*moves, *[flat] * 30]
    z, bb, sma = ZScore(20), Bollinger(20, 2.0), SMA(20)
    out = [(z.update(x), bb.update(x), sma.update(x)) for x in series]
    for zi, bi, si in out[-11:]:  # the last 11 windows hold nothing but `flat`
        assert zi == 0.0 and si == flat
        assert bi == BollingerBands(flat, flat, flat, 0.5, 0.0)
    zi, bi, _ = out[-12]  # the window before still holds one earlier close
    assert zi is not None and zi != 0.0 and bi is not None and bi.upper > bi.lower


@pytest.mark.parametrize("make", [SMA, EMA, RSI, Bollinger, ZScore, ATR])
@pytest.mark.parametrize("period", [0, -1])
def test_period_must_be_positive(make: Callable[[int], Any], period: int) -> None:
    with pytest.raises(ValueError, match=rf"{make.__name__} period must be >= 1, got {period}"):
        make(period)


def test_period_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="period must be an int"):
        SMA(2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0.0, -1.0, math.inf, math.nan])
def test_bollinger_k_must_be_positive(k: float) -> None:
    with pytest.raises(ValueError, match="k must be a finite number > 0"):
        Bollinger(20, k)


def test_value_and_ready_follow_update() -> None:
    ema = EMA(3)
    assert ema.value is None and not ema.ready
    assert ema.update(1.0) is None and ema.update(2.0) is None
    assert not ema.ready and ema.value is None
    v = ema.update(3.0)
    assert v is not None and ema.ready and ema.value == v


@scales
@pytest.mark.parametrize("period", [1, 2, 20, 50])
def test_sma_is_bit_for_bit_the_bollinger_mid_over_long_series(base: float, period: int) -> None:
    """SMA updates its sums without the sum of squares, Bollinger through the shared window code: the same
    mean either way, to the last bit, through warm-up, every re-anchor and flat stretches."""
    close = ohlc(base).close.tolist()
    close[5_000:5_200] = [close[5_000]] * 200  # a flat stretch: the exact-constant branch
    sma, bands = SMA(period), Bollinger(period, 2.0)
    for x in close:
        mean, band = sma.update(x), bands.update(x)
        assert (mean is None) == (band is None)
        assert band is None or mean == band.mid
    assert sma.value == bands.value.mid if bands.value else sma.value is None


def test_sma_refuses_a_bad_input_unchanged() -> None:
    sma, twin = SMA(3), SMA(3)
    for x in (1.0, 2.0, 3.0, 4.0):
        sma.update(x)
        twin.update(x)
    for bad in (math.nan, math.inf, 1e300):
        with pytest.raises(ValueError, match="SMA: refused the input"):
            sma.update(bad)
    assert sma.to_state() == twin.to_state() and sma.update(5.0) == twin.update(5.0) == 4.0
