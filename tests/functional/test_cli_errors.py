"""Bad input to the command line gets a sentence saying what is wrong and what to do, never a traceback
or pydantic's dump (issue 10, item 17). Each case here printed one before."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from coinswarm.cli.main import main

OHLCV = Path(__file__).resolve().parents[3] / "shared" / "data" / "ohlcv"
RAW = ("Traceback", "pydantic", "input_value", "validation error for", "errors.pydantic.dev")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("COINSWARM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COINSWARM_MARKET__SOURCE", "synthetic")  # nothing here may reach the internet
    shutil.copy(OHLCV / "ADA_BTC-5m.csv.gz", tmp_path / "mydata.csv.gz")
    (tmp_path / "random.db").write_bytes(bytes(range(256)) * 20)
    return tmp_path


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    for raw in RAW:
        assert raw not in out + err, err
    return err


@pytest.mark.parametrize(
    "argv",
    [["backtest", "mydata.csv.gz", "--no-progress"], ["run", "--replay", "mydata.csv.gz", "--cycles", "1"]],
    ids=["backtest", "run --replay"],
)
def test_a_candle_file_whose_name_is_not_a_symbol_is_refused_saying_how_to_name_it(
    here: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(argv, capsys)
    assert "mydata.csv.gz: the file name does not say which symbol" in err
    assert "'mydata' is not a symbol like BTC-USD" in err and "BTC_USD-1m.csv.gz" in err


def test_backtest_takes_the_symbol_from_the_option_and_refuses_a_bad_one(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--symbol BTC-USD" in refused(["backtest", "mydata.csv.gz", "--no-progress"], capsys)
    err = refused(["backtest", "mydata.csv.gz", "--no-progress", "--symbol", "ada-btc"], capsys)
    assert "--symbol 'ada-btc' is not a symbol" in err
    assert main(["backtest", "mydata.csv.gz", "--no-progress", "--symbol", "ADA-BTC", "--json"]) == 0
    assert '"symbol": "ADA-BTC"' in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["status"], ["ledger", "verify"], ["kill-switch", "on"], ["kill-switch", "status"], ["run", "--cycles", "1"]],
    ids=lambda a: " ".join(a),
)
def test_a_state_file_that_is_not_a_database_is_refused_by_name(
    here: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused([*argv, "--state", "random.db"], capsys)
    assert "random.db cannot be opened as a state file (file is not a database)" in err
    assert "--state PATH" in err
