"""A portfolio backtest: several symbols in one account, equal to the live cycle replayed over the same
files (`coinswarm run --replay A B C`, fused and mesh) fill for fill; one symbol gives what a
single-file backtest gives; the report covers every symbol."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.backtest.engine import BacktestOptions, run_backtest
from coinswarm.cli.main import main
from coinswarm.config.loader import load_settings
from coinswarm.domain.models import ExitReason, Fill, FillRecorded
from coinswarm.marketdata.candle_files import load_candles, write_candles
from coinswarm.stages.messages import DecidedStep, PlacementDone

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ohlcv"
FILES = ("ETH_BTC-5m.csv.gz", "LTC_BTC-5m.csv.gz", "XMR_BTC-5m.csv.gz")
# 450 bars a file: 75 fills over the three symbols (stop-loss, ROI and signal exits, and runs of bars of a
# held symbol placed at once), which the tests below assert the sample exercises; each bar of it is a live
# cycle replayed twice (fused and mesh), which is most of this module's time.
BARS = 450
# The command's test runs the default committee, which trades only later in these files.
COMMAND_BARS = 900

# A busier committee than the default (so that a short replay trades), tight exits (so that they fire),
# and a warm-up of one candle: `run --replay` then trades from its first candle, as a backtest does.
CONFIG = """
[committee]
threshold = 0.3
quorum = 1
[market]
warmup_candles = 1
[sizing]
buy_notional = 2500.0
[risk]
max_position_notional = 3000.0
max_total_exposure = 5000.0
[exits]
stop_loss_pct = 1.0
roi = {"0" = 1.5, "60" = 0.5}
"""


def sample(out: Path, bars: int) -> list[Path]:
    if not (DATA / FILES[0]).exists():
        pytest.skip(f"the reference data is not beside the project ({DATA})")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, name in enumerate(FILES):
        candles = load_candles(DATA / name).candles
        # different starts and a gap in one file, so the symbols' bars do not line up one to one
        part = candles[30 * k : 30 * k + bars]
        if k == 1:
            part = part[:400] + part[420:]
        paths.append(write_candles(out / name.replace(".gz", ""), part))
    return paths


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return sample(tmp_path_factory.mktemp("portfolio"), BARS)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "coinswarm.toml"
    path.write_text(CONFIG)
    return path


RULES = {ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP, ExitReason.ROI, ExitReason.MAX_HOLD}
TF = 300


def key(f: Fill, *, cycle_time: bool = False) -> tuple[object, ...]:
    """What must be equal. One difference on purpose (docs/backtest-report.md): an exit by a rule happens
    during a candle; the backtest stamps it at that candle's open, a cycle at its close, when it sees it."""
    ts = f.ts + TF if cycle_time and f.exit_reason in RULES else f.ts
    return (f.symbol, f.side, round(f.quantity, 12), round(f.price, 12), round(f.fee, 12), ts, f.exit_reason)


def backtest_fills(files: list[Path], config: Path) -> list[Fill]:
    series = {}
    for p in files:
        cf = load_candles(p)
        series[cf.symbol] = cf.candles
    result = run_backtest(series, load_settings(config), BacktestOptions())
    return [f for f in result.fills if f.exit_reason is not ExitReason.END_OF_BACKTEST]


@pytest.mark.parametrize("wiring", ["fused", "mesh"])
def test_a_portfolio_backtest_is_the_live_cycle_replayed(
    files: list[Path], config: Path, tmp_path: Path, wiring: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = backtest_fills(files, config)
    reasons = {f.exit_reason for f in expected if f.exit_reason}
    assert {f.symbol for f in expected} == {"ETH-BTC", "LTC-BTC", "XMR-BTC"}
    assert {ExitReason.STOP_LOSS, ExitReason.ROI} <= reasons, "the sample should exercise the exits"

    state = tmp_path / "replay.db"
    argv = ["run", "--config", str(config), "--replay", *map(str, files), "--state", str(state)]
    code = main([*argv, "--wiring", wiring, "--quiet"])
    capsys.readouterr()
    assert code == 0
    store = SqliteStore(state)
    got = [e.payload.fill for e in store.read("account:paper") if isinstance(e.payload, FillRecorded)]
    assert [key(f) for f in got] == [key(f, cycle_time=True) for f in expected]


def test_one_symbol_in_a_mapping_is_the_single_file_backtest(files: list[Path], config: Path) -> None:
    cf = load_candles(files[0])
    settings = load_settings(config)
    alone = run_backtest(cf.candles, settings, BacktestOptions())
    mapped = run_backtest({cf.symbol: cf.candles}, settings, BacktestOptions())
    assert [key(f) for f in mapped.fills] == [key(f) for f in alone.fills]
    assert mapped.equity == alone.equity and mapped.ts == alone.ts


def test_the_portfolio_shares_one_account(files: list[Path], config: Path) -> None:
    series = {load_candles(p).symbol: load_candles(p).candles for p in files}
    settings = load_settings(config)
    together = run_backtest(series, settings, BacktestOptions())
    assert together.symbols == ("ETH-BTC", "LTC-BTC", "XMR-BTC")
    grid = sorted({c.ts for c in next(iter(series.values()))} | {c.ts for s in series.values() for c in s})
    assert len(together.ts) == len(grid) == len(together.equity)
    assert set(together.closes) == set(series)
    # one account: the symbols hold positions at the same time, paid from one cash balance that never
    # goes below zero
    held: dict[str, float] = {}
    cash, overlapping = settings.paper.starting_cash, 0
    for f in together.fills:
        sign = 1.0 if f.side.value == "buy" else -1.0
        held[f.symbol] = held.get(f.symbol, 0.0) + sign * f.quantity
        cash -= sign * f.quantity * f.price + f.fee
        assert cash >= -1e-6
        overlapping = max(overlapping, sum(1 for q in held.values() if q > 1e-12))
    assert overlapping >= 2
    js = together.to_json()
    assert js["symbols"] == ["ETH-BTC", "LTC-BTC", "XMR-BTC"]
    json.dumps(js)


def test_the_command_backtests_a_folder_as_one_account_and_writes_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sample(tmp_path / "portfolio", COMMAND_BARS)
    out = tmp_path / "report"
    figure = tmp_path / "figure.png"
    code = main(["backtest", str(files[0].parent), "--json", "--report", str(out), "--plot", str(figure),
                 "--no-progress"])  # fmt: skip
    js = json.loads(capsys.readouterr().out)
    assert code == 0
    assert js["symbols"] == ["ETH-BTC", "LTC-BTC", "XMR-BTC"]
    assert [row["symbol"] for row in js["per_symbol"]] == js["symbols"]
    assert sum(row["trades"] for row in js["per_symbol"]) == js["trades"] == len(js["trade_list"]) > 0
    assert sum(js["exit_reasons"].values()) == js["trades"]
    assert all(t["votes"] for t in js["trade_list"]), "every entry carries the committee's votes"
    assert {p.name for p in out.iterdir()} == {"report.html", "trades.csv", "summary.json"}
    assert figure.stat().st_size > 20_000


def test_the_text_report_fits_a_terminal(files: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backtest", *map(str, files), "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0
    body = text.splitlines()[1:]  # the first line names the files, however long their paths
    assert max(len(line) for line in body) <= 100
    for section in ("Summary", "Per symbol", "Exit reasons", "Monthly", "buy-and-hold (equal weights)"):
        assert section in text


def test_two_files_of_one_symbol_and_symbol_with_several_files_are_refused(
    files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", str(files[0]), str(files[0]), "--no-progress"]) == 2
    assert "a second file of ETH-BTC" in capsys.readouterr().err
    assert main(["backtest", *map(str, files[:2]), "--symbol", "ETH-BTC", "--no-progress"]) == 2
    assert "--symbol names the symbol of a single file" in capsys.readouterr().err


def test_the_sample_places_a_held_symbol_many_bars_at_once(
    files: list[Path], config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backtest hands placement a run of bars of a symbol that holds a position in one message while
    the other symbols hold nothing (nothing they do in between reads or writes what it does): the sample
    must have such runs, so that the comparison with the live replay above covers them. Likewise runs of a
    held symbol's bars that only watch its position while another symbol holds one too (settled at once,
    ExitingBroker.quiet_run)."""
    from coinswarm.backtest.exits import ExitingBroker
    from coinswarm.stages.placement import PlacementSession

    runs: list[tuple[str, int, bool]] = []
    quiet_runs: list[int] = []
    place, place_one, watched = PlacementSession.place, PlacementSession.place_one, ExitingBroker.watched

    def seen(session: PlacementSession, steps: int) -> None:
        flat = {s: session.broker.flat(s) for s in ("ETH-BTC", "LTC-BTC", "XMR-BTC")}
        others_flat = all(v for s, v in flat.items() if s != session.symbol)
        runs.append((session.symbol, steps, not flat[session.symbol] and others_flat))

    placing: list[bool] = []  # inside a placement message, whose quiet bars are its own

    def recording(self: PlacementSession, steps: Sequence[DecidedStep], start: int, end: int) -> PlacementDone | None:
        seen(self, end - start)
        placing.append(True)
        try:
            return place(self, steps, start, end)
        finally:
            placing.pop()

    def recording_one(self: PlacementSession, step: DecidedStep) -> PlacementDone | None:
        seen(self, 1)
        return place_one(self, step)

    def quiet(broker: ExitingBroker, symbol: str, steps: Sequence[DecidedStep], start: int, end: int) -> None:
        if not placing:  # points that only watched a position, settled at once between messages
            runs.append((symbol, end - start, False))
            quiet_runs.append(end - start)
        watched(broker, symbol, steps, start, end)

    monkeypatch.setattr(PlacementSession, "place", recording)
    monkeypatch.setattr(PlacementSession, "place_one", recording_one)
    monkeypatch.setattr(ExitingBroker, "watched", quiet)
    backtest_fills(files, config)
    held_alone = [steps for _, steps, alone in runs if alone]
    assert any(steps > 1 for steps in held_alone)
    assert any(steps > 1 for steps in quiet_runs)
    assert sum(steps for _, steps, _ in runs) == sum(BARS - (20 if k == 1 else 0) for k in range(3))
