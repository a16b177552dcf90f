"""The exit rules in `run_backtest` and `coinswarm backtest`: on every bar held, for the committee and
sma-cross alike, every sell with its reason (docs/exits.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coinswarm.backtest.engine import BacktestOptions, BacktestResult, run_backtest
from coinswarm.cli.main import main
from coinswarm.config.settings import ExitConfig, Settings
from coinswarm.domain.models import Candle, ExitReason, Fill, Side
from coinswarm.marketdata.candle_files import load_candles

OHLCV = Path(__file__).resolve().parents[3] / "shared" / "data" / "ohlcv"
ETH_BTC = OHLCV / "ETH_BTC-5m.csv.gz"  # 5,760 five-minute bars without a gap


@pytest.fixture(scope="module")
def bars() -> list[Candle]:
    if not ETH_BTC.exists():
        pytest.skip(f"{ETH_BTC} not found")
    candles: list[Candle] = load_candles(ETH_BTC).candles
    return candles


def sma(**exits: object) -> BacktestOptions:
    return BacktestOptions(strategy="sma-cross", fee_bps=10.0, slippage_bps=0.0, exits=exits)


def trades(result: BacktestResult) -> list[tuple[Fill, Fill]]:
    """(entry, exit) fill pairs of a strategy that buys only when flat and sells everything."""
    out: list[tuple[Fill, Fill]] = []
    entry: Fill | None = None
    for f in result.fills:
        if f.side is Side.BUY:
            entry = f
        else:
            assert entry is not None
            out.append((entry, f))
            entry = None
    return out


def test_every_sell_has_a_reason_and_the_json_counts_them(bars: list[Candle]) -> None:
    result = run_backtest(bars, Settings(), sma(stop_loss_pct=1.5, roi={"0": 2.0}, trailing_stop_pct=0.8))
    sells = [f for f in result.fills if f.side is Side.SELL]
    assert sells and all(f.exit_reason is not None for f in sells)
    shown = result.to_json()["exit_reasons"]
    assert sum(shown.values()) == len(sells) == result.metrics.trades
    assert {"signal", "stop_loss", "roi", "trailing_stop"} <= set(shown)
    assert all(isinstance(n, int) for n in shown.values())


def test_a_stop_loss_sells_at_the_stop_or_at_a_lower_open(bars: list[Candle]) -> None:
    at = {c.ts: c for c in bars}
    result = run_backtest(bars, Settings(), sma(stop_loss_pct=1.0))
    stopped = [(e, x) for e, x in trades(result) if x.exit_reason is ExitReason.STOP_LOSS]
    assert len(stopped) >= 5
    for entry, exit_ in stopped:
        candle = at[exit_.ts]
        stop = entry.price * 0.99
        assert candle.low <= stop
        assert exit_.price == pytest.approx(candle.open if candle.high < stop else stop, rel=1e-12)
        # and no bar before it, since the entry, reached the stop
        assert all(c.low > stop for c in bars if entry.ts <= c.ts < exit_.ts)


def test_max_hold_sells_at_the_first_open_that_long_after_the_entry(bars: list[Candle]) -> None:
    at = {c.ts: c for c in bars}
    result = run_backtest(bars, Settings(), sma(max_hold_minutes=30))
    held = [(e, x) for e, x in trades(result) if x.exit_reason is ExitReason.MAX_HOLD]
    assert held
    for entry, exit_ in held:
        assert exit_.ts - entry.ts == 30 * 60
        assert exit_.price == at[exit_.ts].open
    assert all(x.ts - e.ts <= 30 * 60 for e, x in trades(result))


def test_with_exit_on_signal_off_only_the_rules_close(bars: list[Candle]) -> None:
    result = run_backtest(bars, Settings(), sma(stop_loss_pct=2.0, roi={"0": 1.0}, exit_on_signal=False))
    assert "signal" not in result.exit_reasons
    assert set(result.exit_reasons) <= {"stop_loss", "roi", "end_of_backtest"}
    assert result.metrics.trades > 10


def test_sma_cross_takes_no_exit_rule_unless_one_is_configured(bars: list[Candle]) -> None:
    plain = run_backtest(bars, Settings(), sma())
    assert plain.exits["stop_loss_pct"] is None
    assert set(plain.exit_reasons) <= {"signal", "end_of_backtest"}
    configured = Settings(exits=ExitConfig(stop_loss_pct=1.0))
    stopped = run_backtest(bars, configured, sma())
    assert stopped.exits["stop_loss_pct"] == 1.0 and "stop_loss" in stopped.exit_reasons


def test_the_committee_has_the_default_stop_loss(bars: list[Candle]) -> None:
    result = run_backtest(bars[:1500], Settings(), BacktestOptions(strategy="committee"))
    assert result.exits["stop_loss_pct"] == Settings().exits.stop_loss_pct == 10.0
    assert all(f.exit_reason is not None for f in result.fills if f.side is Side.SELL)


def test_the_committee_exits_by_the_rules_too(bars: list[Candle]) -> None:
    opts = BacktestOptions(strategy="committee", exits={"stop_loss_pct": 0.5, "roi": {"0": 0.5}})
    result = run_backtest(bars, Settings(), opts)
    assert {"stop_loss", "roi"} <= set(result.exit_reasons)


def test_the_command_takes_the_exit_flags(capsys: pytest.CaptureFixture[str]) -> None:
    if not ETH_BTC.exists():
        pytest.skip(f"{ETH_BTC} not found")
    args = ["backtest", str(ETH_BTC), "--strategy", "sma-cross", "--no-progress", "--stop-loss", "1.5"]
    args += ["--roi", "0=2,60=1", "--trailing-stop", "0.8", "--trailing-offset", "1", "--trailing-only-offset"]
    assert main([*args, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["exits"]["stop_loss_pct"] == 1.5
    assert shown["exits"]["roi"] == {"0": 2.0, "60": 1.0}
    assert shown["exits"]["trailing_only_offset_reached"] is True
    assert sum(shown["exit_reasons"].values()) == shown["trades"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "stop-loss 1.5 %" in out and "Exit reasons" in out and "roi " in out


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--stop-loss", "0"], "--stop-loss: Input should be greater than 0"),
        (["--roi", "5"], "--roi: '5' is not MINUTES=PCT"),
        (["--roi", "soon=5"], "--roi: 'soon' is not a whole number of minutes"),
        (["--roi", "{bad"], "--roi: not a JSON object"),
        (["--trailing-stop", "150"], "--trailing-stop: Input should be less than 100"),
        (["--max-hold", "0"], "--max-hold: Input should be greater than or equal to 1"),
    ],
)
def test_bad_exit_flags_are_refused_saying_which(
    flags: list[str], complaint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", str(tmp_path / "never-read.csv"), *flags]) == 2
    assert complaint in capsys.readouterr().err


def test_the_backtest_broker_tags_only_its_own_exits_and_the_sell_decisions() -> None:
    from coinswarm.adapters.memory_store import MemoryStore
    from coinswarm.adapters.paper_broker import PaperBroker
    from coinswarm.backtest.exits import ExitingBroker
    from coinswarm.domain.exits import ExitRules
    from coinswarm.domain.models import Order

    t0, tf = 1_700_000_100, 300
    candles = [
        Candle(symbol="X-Y", ts=t0 + i * tf, open=o, high=h, low=low, close=c, volume=1.0, timeframe_s=tf)
        for i, (o, h, low, c) in enumerate(
            [(100, 101, 99, 100), (100, 100, 90, 95), (95, 96, 94, 95), (95, 96, 94, 95)]
        )
    ]
    paper = PaperBroker(MemoryStore(), starting_cash=1_000.0, fee_bps=10.0)
    broker = ExitingBroker(paper, candles, ExitRules(stop_loss_pct=5.0), exit_on_signal=False)

    def order(cid: str, side: Side, ts: int) -> Order:
        return Order(client_order_id=cid, symbol="X-Y", side=side, fraction=1.0, placed_ts=ts)

    broker.submit(order(f"cs-X-Y-{t0}-b", Side.BUY, t0))
    entry = broker.settle("X-Y", 100.0, t0)
    assert [f.side for f in entry.fills] == [Side.BUY] and entry.pending  # a position is watched: bar by bar
    stopped = broker.settle("X-Y", 100.0, t0 + tf)  # the low reaches 95: the stop-loss sells there
    assert [(f.exit_reason, f.price) for f in stopped.fills] == [(ExitReason.STOP_LOSS, pytest.approx(95.0))]
    assert broker.held() == 0.0 and not stopped.pending

    broker.submit(order(f"cs-X-Y-{t0 + 2 * tf}-b", Side.BUY, t0 + 2 * tf))
    broker.settle("X-Y", 95.0, t0 + 2 * tf)
    refused = broker.submit(order(f"cs-X-Y-{t0 + 3 * tf}-s", Side.SELL, t0 + 3 * tf))  # a sell decision
    assert refused.status.value == "cancelled" and "exit_on_signal is off" in refused.note
    broker.submit(order(f"cs-X-Y-{t0 + 3 * tf}-roi", Side.SELL, t0 + 3 * tf))  # an exit someone else sent
    sold = broker.settle("X-Y", 95.0, t0 + 3 * tf)
    assert [(f.side, f.exit_reason) for f in sold.fills] == [(Side.SELL, None)]  # its reason is its sender's
