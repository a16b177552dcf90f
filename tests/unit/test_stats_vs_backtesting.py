"""`coinswarm.backtest.stats` against backtesting.py's own `compute_stats`, figure by figure, to 1e-6.

Two kinds of input: (a) backtesting.py's own runs (an SMA cross on its GOOG series, with weekends
missing, and on a seeded crypto-like 1-hour series that trades every day), whose trades and equity are
fed to both; (b) seeded random equity curves and trades over 5-minute bars. The peer is the reference:
a figure that differs is ours to fix.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting._stats import compute_stats as peer_compute_stats
from backtesting.lib import crossover
from backtesting.test import GOOG

from coinswarm.backtest.stats import Stats, TradeStat, compute_stats

REL = 1e-6

# our field -> (the peer's key, how to turn the peer's value into ours)
FIELDS: dict[str, tuple[str, object]] = {
    "equity_final": ("Equity Final [$]", float),
    "equity_peak": ("Equity Peak [$]", float),
    "return_pct": ("Return [%]", float),
    "buy_hold_return_pct": ("Buy & Hold Return [%]", float),
    "cagr_pct": ("CAGR [%]", float),
    "return_ann_pct": ("Return (Ann.) [%]", float),
    "volatility_ann_pct": ("Volatility (Ann.) [%]", float),
    "sharpe": ("Sharpe Ratio", float),
    "sortino": ("Sortino Ratio", float),
    "calmar": ("Calmar Ratio", float),
    "max_drawdown_pct": ("Max. Drawdown [%]", float),
    "avg_drawdown_pct": ("Avg. Drawdown [%]", float),
    "max_drawdown_duration_days": ("Max. Drawdown Duration", lambda v: v / pd.Timedelta(days=1)),
    "avg_drawdown_duration_days": ("Avg. Drawdown Duration", lambda v: v / pd.Timedelta(days=1)),
    "exposure_pct": ("Exposure Time [%]", float),
    "trades": ("# Trades", int),
    "win_rate_pct": ("Win Rate [%]", float),
    "best_trade_pct": ("Best Trade [%]", float),
    "worst_trade_pct": ("Worst Trade [%]", float),
    "avg_trade_pct": ("Avg. Trade [%]", float),
    "max_trade_duration_hours": ("Max. Trade Duration", lambda v: v / pd.Timedelta(hours=1)),
    "avg_trade_duration_hours": ("Avg. Trade Duration", lambda v: v / pd.Timedelta(hours=1)),
    "profit_factor": ("Profit Factor", float),
    "expectancy_pct": ("Expectancy [%]", float),
    "sqn": ("SQN", float),
}


def _peer_value(stats: pd.Series, key: str, convert: object) -> float:
    value = stats[key]
    if value is None or (not isinstance(value, pd.Timedelta) and pd.isna(value)) or value is pd.NaT:
        return math.nan
    return float(convert(value))  # type: ignore[operator]


def assert_same(ours: Stats, peer: pd.Series) -> None:
    wrong = []
    for field, (key, convert) in FIELDS.items():
        mine, theirs = float(getattr(ours, field)), _peer_value(peer, key, convert)
        if math.isnan(theirs) or math.isnan(mine):
            if not (math.isnan(theirs) and math.isnan(mine)):
                wrong.append(f"{field}: ours {mine}, backtesting.py {theirs}")
        elif math.isinf(theirs) or math.isinf(mine):
            if mine != theirs:
                wrong.append(f"{field}: ours {mine}, backtesting.py {theirs}")
        elif not math.isclose(mine, theirs, rel_tol=REL, abs_tol=1e-9):
            wrong.append(f"{field}: ours {mine!r}, backtesting.py {theirs!r}")
    assert not wrong, "\n".join(wrong)


def _epoch(index: pd.DatetimeIndex) -> list[int]:
    return [int(x) for x in index.as_unit("s").asi8]


def ours_from_peer_run(stats: pd.Series, ohlc: pd.DataFrame, first_trading_bar: int) -> Stats:
    trades_df = stats["_trades"]
    index = ohlc.index
    trades = [
        TradeStat(
            entry_bar=int(t.EntryBar),
            exit_bar=int(t.ExitBar),
            entry_ts=int(pd.Timestamp(t.EntryTime).timestamp()),
            exit_ts=int(pd.Timestamp(t.ExitTime).timestamp()),
            pnl=float(t.PnL),
            return_frac=float(t.ReturnPct),
        )
        for t in trades_df.itertuples()
    ]
    equity = stats["_equity_curve"]["Equity"].to_list()
    return compute_stats(_epoch(index), equity, ohlc["Close"].to_list(), trades, first_trading_bar=first_trading_bar)


class SmaCross(Strategy):
    fast = 10
    slow = 20

    def init(self) -> None:
        close = pd.Series(self.data.Close)
        self.sma_fast = self.I(lambda: close.rolling(self.fast).mean())
        self.sma_slow = self.I(lambda: close.rolling(self.slow).mean())

    def next(self) -> None:
        if crossover(self.sma_fast, self.sma_slow):
            self.position.close()
            self.buy()
        elif crossover(self.sma_slow, self.sma_fast):
            self.position.close()


def crypto_frame(bars: int = 6_000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, bars)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, bars))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, bars))
    index = pd.date_range("2023-01-01", periods=bars, freq="1h")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close, "Volume": 1.0}, index=index)


@pytest.mark.parametrize(
    ("name", "frame"),
    [("goog", lambda: GOOG.copy()), ("crypto_1h", crypto_frame)],
)
def test_a_peer_run_gives_the_same_figures(name: str, frame: object) -> None:
    ohlc = frame()  # type: ignore[operator]
    bt = Backtest(ohlc, SmaCross, cash=10_000, commission=0.002, finalize_trades=True)
    peer = bt.run()
    assert peer["# Trades"] > 10, f"{name}: the run should trade"
    first = int(np.isnan(peer["_strategy"].sma_slow).argmin())
    assert_same(ours_from_peer_run(peer, ohlc, first), peer)


def random_case(seed: int) -> tuple[pd.DataFrame, np.ndarray, list[TradeStat], pd.DataFrame]:
    rnd = random.Random(seed)
    bars = rnd.randint(300, 3_000)
    index = pd.date_range("2024-03-01 13:05", periods=bars, freq="5min")
    close = 50 * np.exp(np.cumsum([rnd.gauss(0, 0.003) for _ in range(bars)]))
    ohlc = pd.DataFrame({"Open": close, "High": close, "Low": close, "Close": close}, index=index)
    equity = 10_000 * np.exp(np.cumsum([rnd.gauss(0.0001, 0.004) for _ in range(bars)]))
    trades: list[TradeStat] = []
    rows = []
    bar = rnd.randint(0, 20)
    while bar < bars - 2:
        exit_bar = min(bars - 1, bar + rnd.randint(1, 200))
        entry_price, qty = float(close[bar]), rnd.uniform(0.5, 20)
        pnl = qty * (float(close[exit_bar]) - entry_price) - rnd.uniform(0, 2)
        ret = pnl / (qty * entry_price)
        trades.append(TradeStat(bar, exit_bar, int(index[bar].timestamp()), int(index[exit_bar].timestamp()), pnl, ret))
        rows.append(
            {
                "Size": qty,
                "EntryBar": bar,
                "ExitBar": exit_bar,
                "EntryPrice": entry_price,
                "ExitPrice": float(close[exit_bar]),
                "PnL": pnl,
                "ReturnPct": ret,
                "EntryTime": index[bar],
                "ExitTime": index[exit_bar],
            }
        )
        bar = exit_bar + rnd.randint(1, 60)
    trades_df = pd.DataFrame(rows)
    if len(trades_df):
        trades_df["Duration"] = trades_df["ExitTime"] - trades_df["EntryTime"]
    return ohlc, equity, trades, trades_df


@pytest.mark.parametrize("seed", range(12))
def test_random_curves_and_trades_give_the_same_figures(seed: int) -> None:
    ohlc, equity, trades, trades_df = random_case(seed)
    peer = peer_compute_stats(trades_df, equity, ohlc, None)
    ours = compute_stats(_epoch(ohlc.index), equity.tolist(), ohlc["Close"].to_list(), trades)
    assert_same(ours, peer)


def test_a_flat_curve_without_trades_has_undefined_ratios_not_zeros() -> None:
    index = pd.date_range("2024-01-01", periods=3 * 288, freq="5min")
    stats = compute_stats(_epoch(index), [1_000.0] * len(index), [10.0] * len(index), [])
    assert stats.return_pct == 0.0 and stats.trades == 0
    assert math.isnan(stats.sharpe) and math.isnan(stats.win_rate_pct) and math.isnan(stats.profit_factor)
    assert stats.max_drawdown_pct == 0.0


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one timestamp, one equity and one close per bar"):
        compute_stats([0, 60], [1.0], [1.0, 1.0], [])
