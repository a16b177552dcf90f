"""Parity of the exits with freqtrade's own backtesting: the same SMA cross on the same real candles, with
the same stop-loss, ROI table and trailing stop, gives the same trades (entry and exit bar, exit price),
the same exit reasons and the same final equity within 0.1 %.

How freqtrade runs here: its `Backtesting` class, offline, with its exchange's markets patched in as its
own tests do (tests/conftest.py `patch_exchange`: no ccxt client, no market download; one spot market
with no price or amount precision, so that freqtrade rounds nothing: the files' prices carry float noise
such as 0.09662000000000001, and an exit price rounded below such a low would not fill in that candle).
Its strategy takes its entry and exit signals from Coinswarm's own SMA-cross agent run over the same
closes, so only the exits are compared, not two floating-point SMAs near a tie. Both sides: all the
cash in at the next open after an up-cross, out at the next open after a down-cross, one position at a
time, the same fee on both fills, no slippage.

Differences on purpose (docs/exits.md), each pinned by a test below:
  * the end of the data: Coinswarm sells what is still held at the last close (`end_of_backtest`);
    freqtrade at the last candle's open (`force_exit`). For the equity comparison freqtrade gets one
    extra flat candle at the last close, so both sell there;
  * the size of an all-in buy: Coinswarm spends the cash with the entry fee inside it, freqtrade stakes
    the whole balance and charges the fee on top, so its position is (1 + fee) times larger; the final
    equity differs by about the fee times the run's return (well within 0.1 %).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, PropertyMock, patch

import pytest

from coinswarm.backtest.engine import BacktestOptions, BacktestResult, run_backtest
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle, Side
from coinswarm.marketdata.candle_files import load_candles

pytest.importorskip("freqtrade")
pd = pytest.importorskip("pandas")

OHLCV = Path(__file__).resolve().parents[3] / "shared" / "data" / "ohlcv"
CASH = 1_000.0
FEE_BPS = 10.0
SEE_THROUGH_GAPS = 1_000_000
EQUITY_TOLERANCE = 0.001  # 0.1 %
EXMS = "freqtrade.exchange.exchange.Exchange"
REASONS = {  # freqtrade's exit reason -> Coinswarm's
    "exit_signal": "signal",
    "stop_loss": "stop_loss",
    "trailing_stop_loss": "trailing_stop",
    "roi": "roi",
    "force_exit": "end_of_backtest",
}


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    timeframe: str
    fast: int
    slow: int
    exits: dict[str, Any]  # [exits] settings
    exercises: frozenset[str]  # the exit reasons the case must show, so that it tests what it is for
    via_cli: bool = False

    def freqtrade_exits(self) -> dict[str, Any]:
        """The same settings in freqtrade's terms (ratios, not percents)."""
        e = self.exits
        out: dict[str, Any] = {
            "stoploss": -e["stop_loss_pct"] / 100.0,
            "minimal_roi": {m: pct / 100.0 for m, pct in e.get("roi", {}).items()} or {"0": 100.0},
            "trailing_stop": e.get("trailing_stop_pct") is not None,
        }
        if e.get("trailing_stop_pct") is not None:
            out["trailing_stop_positive"] = e["trailing_stop_pct"] / 100.0
            out["trailing_stop_positive_offset"] = e.get("trailing_offset_pct", 0.0) / 100.0
            out["trailing_only_offset_is_reached"] = e.get("trailing_only_offset_reached", False)
        return out

    def flags(self) -> list[str]:
        e = self.exits
        out = ["--stop-loss", str(e["stop_loss_pct"])]
        if e.get("roi"):
            out += ["--roi", ",".join(f"{m}={pct}" for m, pct in e["roi"].items())]
        if e.get("trailing_stop_pct") is not None:
            out += ["--trailing-stop", str(e["trailing_stop_pct"])]
            out += ["--trailing-offset", str(e.get("trailing_offset_pct", 0.0))]
            if e.get("trailing_only_offset_reached"):
                out.append("--trailing-only-offset")
        return out


CASES = [
    Case(
        "eth-btc-5m",
        "ETH_BTC-5m.csv.gz",
        "5m",
        10,
        20,
        {
            "stop_loss_pct": 2.0,
            "roi": {"0": 3.0, "120": 1.0},
            "trailing_stop_pct": 1.0,
            "trailing_offset_pct": 1.5,
            "trailing_only_offset_reached": True,
        },
        frozenset({"signal", "stop_loss", "roi", "trailing_stop"}),
        via_cli=True,
    ),
    Case(  # gaps in the file; the stop trails at the stop-loss distance until the offset is reached
        "ada-btc-5m",
        "ADA_BTC-5m.csv.gz",
        "5m",
        5,
        30,
        {
            "stop_loss_pct": 3.0,
            "roi": {"0": 5.0, "30": 2.0, "90": 0.5, "240": 0.0},
            "trailing_stop_pct": 1.5,
            "trailing_offset_pct": 2.0,
        },
        frozenset({"signal", "roi", "trailing_stop"}),  # the stop trails from the first higher high
    ),
    Case(  # daily candles, a week-long ROI row
        "btc-usdt-1d",
        "BTC_USDT-1d.csv.gz",
        "1d",
        5,
        20,
        {"stop_loss_pct": 8.0, "roi": {"0": 25.0, "10080": 6.0}, "trailing_stop_pct": 4.0, "trailing_offset_pct": 9.0},
        frozenset({"roi", "trailing_stop"}),
    ),
]


@dataclass(frozen=True)
class Trade:
    entry_ts: int
    exit_ts: int
    entry_price: float
    exit_price: float
    reason: str
    quantity: float


# ------------------------------------------------------------------------------------------ freqtrade

STRATEGY = '''
from pandas import DataFrame
from freqtrade.strategy import IStrategy

from coinswarm.domain.agents.sma_cross import SmaCrossAgent
from coinswarm.domain.models import Candle


class CoinswarmSmaCross(IStrategy):
    """Coinswarm's SMA-cross agent as a freqtrade strategy: enter on its BUY, exit on its SELL."""

    INTERFACE_VERSION = 3
    timeframe = "{timeframe}"
    minimal_roi = {{"0": 100.0}}
    stoploss = -0.99
    startup_candle_count = 0
    process_only_new_candles = False
    use_exit_signal = True

    def populate_indicators(self, df: DataFrame, metadata: dict) -> DataFrame:
        agent = SmaCrossAgent(fast={fast}, slow={slow})
        signals = []
        for ts, o, h, low, c, v in zip(df["date"], df["open"], df["high"], df["low"], df["close"], df["volume"]):
            candle = Candle(symbol="X", ts=int(ts.timestamp()), open=o, high=h, low=low, close=c, volume=v,
                            timeframe_s={timeframe_s})
            score = agent.observe(candle)
            signals.append(0.0 if score.abstains else score.signal)
        df["cross"] = signals
        return df

    def populate_entry_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        df.loc[df["cross"] > 0, "enter_long"] = 1
        return df

    def populate_exit_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        df.loc[df["cross"] < 0, "exit_long"] = 1
        return df
'''


def market(pair: str) -> dict[str, Any]:
    base, quote = pair.split("/")
    return {
        "id": pair.replace("/", "").lower(),
        "symbol": pair,
        "base": base,
        "quote": quote,
        "active": True,
        "spot": True,
        "swap": False,
        "linear": None,
        "type": "spot",
        "precision": {"price": None, "amount": None, "cost": None},  # no rounding: see the module's docstring
        "contractSize": None,
        "limits": {
            "amount": {"min": 1e-8, "max": 1e12},
            "price": {"min": None, "max": None},
            "cost": {"min": 1e-8, "max": None},
            "leverage": {"min": 1.0, "max": 1.0},
        },
    }


@contextmanager
def offline_exchange(pair: str, timeframe: str, fee: float) -> Iterator[None]:
    """freqtrade's exchange with its markets patched in and no ccxt client (its tests' patch_exchange)."""
    patches = {
        "validate_config": MagicMock(),
        "validate_timeframes": MagicMock(),
        "_init_ccxt": MagicMock(),
        "_load_async_markets": MagicMock(return_value={}),
        "reload_markets": MagicMock(),
        "get_fee": MagicMock(return_value=fee),
        "markets": PropertyMock(return_value={pair: market(pair)}),
        "id": PropertyMock(return_value="binance"),
        "name": PropertyMock(return_value="Binance"),
        "precisionMode": PropertyMock(return_value=2),  # ccxt DECIMAL_PLACES
        "precision_mode_price": PropertyMock(return_value=2),
        "timeframes": PropertyMock(return_value=[timeframe]),
    }
    with ExitStack() as stack:
        for name, mock in patches.items():
            stack.enter_context(patch(f"{EXMS}.{name}", mock))
        yield


def frame(candles: list[Candle], *, extra_flat_bar: bool) -> Any:
    rows = [(c.ts, c.open, c.high, c.low, c.close, c.volume) for c in candles]
    if extra_flat_bar:
        last = candles[-1]
        rows.append((last.close_ts, last.close, last.close, last.close, last.close, 0.0))
    df = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume"])
    df.insert(0, "date", pd.to_datetime(df.pop("ts"), unit="s", utc=True))
    return df


def run_freqtrade(
    case: Case, candles: list[Candle], folder: Path, *, extra_flat_bar: bool = True
) -> tuple[list[Trade], float]:
    from freqtrade.enums import CandleType, RunMode
    from freqtrade.optimize.backtesting import Backtesting

    pair = candles[0].symbol.replace("-", "/")
    fee = FEE_BPS / 1e4
    folder.mkdir(parents=True, exist_ok=True)
    code = STRATEGY.format(timeframe=case.timeframe, timeframe_s=candles[0].timeframe_s, fast=case.fast, slow=case.slow)
    (folder / "coinswarm_sma_cross.py").write_text(textwrap.dedent(code))
    config: dict[str, Any] = {
        "runmode": RunMode.BACKTEST,
        "dry_run": True,
        "dry_run_wallet": CASH,
        "stake_currency": pair.split("/")[1],
        "stake_amount": "unlimited",
        "tradable_balance_ratio": 1.0,
        "max_open_trades": 1,
        "timeframe": case.timeframe,
        "fee": fee,
        **case.freqtrade_exits(),
        "entry_pricing": {
            "price_side": "same",
            "use_order_book": False,
            "order_book_top": 1,
            "price_last_balance": 0.0,
            "check_depth_of_market": {"enabled": False, "bids_to_ask_delta": 1},
        },
        "exit_pricing": {"price_side": "same", "use_order_book": False, "order_book_top": 1},
        "exchange": {"name": "binance", "key": "", "secret": "", "enable_ws": False, "pair_whitelist": [pair]},
        "pairlists": [{"method": "StaticPairList"}],
        "strategy": "CoinswarmSmaCross",
        "strategy_path": str(folder),
        "datadir": folder,
        "user_data_dir": folder,
        "db_url": "sqlite://",
        "export": "none",
        "dataformat_ohlcv": "feather",
        "trading_mode": "spot",
        "margin_mode": "",
        "candle_type_def": CandleType.SPOT,
        "disableparamexport": True,
        "internals": {},
        "telegram": {"enabled": False, "token": "", "chat_id": ""},
        "cancel_open_orders_on_exit": False,
        "unfilledtimeout": {"entry": 10, "exit": 30},
        "initial_state": "running",
        "verbosity": 0,
    }
    with offline_exchange(pair, case.timeframe, fee):
        bt = Backtesting(config)
        bt._set_strategy(bt.strategylist[0])
        df = frame(candles, extra_flat_bar=extra_flat_bar)
        processed = bt.strategy.advise_all_indicators({pair: df})
        start, end = df["date"].iloc[0].to_pydatetime(), df["date"].iloc[-1].to_pydatetime()
        outcome = bt.backtest(processed=processed, start_date=start, end_date=end)
    trades = [
        Trade(
            int(row.open_date.timestamp()),
            int(row.close_date.timestamp()),
            float(row.open_rate),
            float(row.close_rate),
            REASONS.get(row.exit_reason, row.exit_reason),
            float(row.amount),
        )
        for row in outcome["results"].itertuples()
    ]
    return trades, float(outcome["final_balance"])


# ------------------------------------------------------------------------------------------ coinswarm


def options(case: Case) -> BacktestOptions:
    return BacktestOptions(
        strategy="sma-cross",
        fast=case.fast,
        slow=case.slow,
        cash=CASH,
        fee_bps=FEE_BPS,
        slippage_bps=0.0,
        max_gap=SEE_THROUGH_GAPS,
        exits=case.exits,
    )


def our_trades(result: BacktestResult) -> list[Trade]:
    trades: list[Trade] = []
    entry = None
    for f in result.fills:
        if f.side is Side.BUY:
            assert entry is None, "sma-cross bought while holding"
            entry = f
            continue
        assert entry is not None and f.exit_reason is not None
        trades.append(Trade(entry.ts, f.ts, entry.price, f.price, f.exit_reason.value, entry.quantity))
        entry = None
    return trades


def run_cli(case: Case, cwd: Path) -> dict[str, Any]:
    """The real console script, as a user types it."""
    script = Path(sys.executable).with_name("coinswarm")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "coinswarm.cli.main"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_")}
    args = ["backtest", str(OHLCV / case.file), "--strategy", "sma-cross", "--fast", str(case.fast)]
    args += ["--slow", str(case.slow), "--cash", str(CASH), "--fee-bps", str(FEE_BPS), "--slippage-bps", "0"]
    args += ["--max-gap", str(SEE_THROUGH_GAPS), "--no-progress", "--json", *case.flags()]
    done = subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


# ------------------------------------------------------------------------------------------------ tests


@pytest.fixture(scope="module")
def candles() -> dict[str, list[Candle]]:
    if not OHLCV.is_dir():
        pytest.skip(f"the reference candle files are not in {OHLCV}")
    return {case.file: load_candles(OHLCV / case.file).candles for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_trades_exit_reasons_and_final_equity_as_freqtrade(
    case: Case, candles: dict[str, list[Candle]], tmp_path: Path
) -> None:
    bars = candles[case.file]
    theirs, their_balance = run_freqtrade(case, bars, tmp_path / "freqtrade")
    result = run_backtest(bars, Settings(), options(case), label="freqtrade parity")
    ours = our_trades(result)

    reasons = {t.reason for t in ours}
    print(f"\n{case.name}: {len(ours)} trades, reasons {result.exit_reasons}")
    assert case.exercises <= reasons, f"the case no longer exercises {sorted(case.exercises - reasons)}"
    assert len(ours) == len(theirs)
    fee = FEE_BPS / 1e4
    for i, (mine, peer) in enumerate(zip(ours, theirs, strict=True)):
        where = f"trade {i} (entered {pd.Timestamp(mine.entry_ts, unit='s')})"
        assert mine.entry_ts == peer.entry_ts, where
        assert mine.exit_ts == peer.exit_ts, where
        assert mine.entry_price == pytest.approx(peer.entry_price, rel=1e-9), where
        assert mine.exit_price == pytest.approx(peer.exit_price, rel=1e-9), where
        if mine.reason == "end_of_backtest":
            # the extra flat candle: freqtrade's rules (or its force exit) sell at the last close there too
            assert i == len(ours) - 1 and mine.exit_price == bars[-1].close, where
        else:
            assert mine.reason == peer.reason, where

    # pinned difference: from the same cash, freqtrade stakes the whole balance and pays the fee on top
    assert theirs[0].quantity == pytest.approx(ours[0].quantity * (1 + fee), rel=1e-6)  # it keeps 8 decimals
    our_return = result.metrics.final_equity / CASH
    their_return = their_balance / CASH
    print(f"final equity: coinswarm {our_return:.6f}, freqtrade {their_return:.6f} of the start")
    assert our_return == pytest.approx(their_return, rel=EQUITY_TOLERANCE)
    if case.via_cli:
        shown = run_cli(case, tmp_path)
        assert shown["trades"] == len(theirs)
        assert shown["final_equity"] == pytest.approx(result.metrics.final_equity, rel=1e-9)
        assert shown["exit_reasons"] == result.exit_reasons
        assert sum(shown["exit_reasons"].values()) == len(theirs)


def test_freqtrade_sells_what_is_left_at_the_last_open_where_coinswarm_sells_at_the_last_close(
    candles: dict[str, list[Candle]], tmp_path: Path
) -> None:
    case = CASES[0]
    bars = candles[case.file]
    # the first bars only, cut where a position is open, so that something is left at the end
    result = run_backtest(bars, Settings(), options(case))
    open_at = next(t.entry_ts for t in our_trades(result) if t.exit_ts - t.entry_ts >= 4 * bars[0].timeframe_s)
    cut = next(i for i, c in enumerate(bars) if c.ts > open_at + 2 * bars[0].timeframe_s)
    short = bars[:cut]
    theirs, _ = run_freqtrade(case, short, tmp_path / "freqtrade", extra_flat_bar=False)
    ours = our_trades(run_backtest(short, Settings(), options(case)))
    assert ours[-1].reason == "end_of_backtest" and ours[-1].exit_price == short[-1].close
    assert theirs[-1].reason == "end_of_backtest"  # freqtrade's force_exit
    assert theirs[-1].exit_price == short[-1].open != short[-1].close
    assert theirs[-1].exit_ts == short[-1].ts and ours[-1].exit_ts == short[-1].close_ts
    assert [t.exit_ts for t in ours[:-1]] == [t.exit_ts for t in theirs[:-1]]
