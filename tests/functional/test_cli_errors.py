"""Bad input to the command line gets a sentence saying what is wrong and what to do, never a traceback
or pydantic's dump (issue 10, item 17). Each case here printed one before."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pytest

from coinswarm.cli import status
from coinswarm.cli.common import fail
from coinswarm.cli.main import main
from coinswarm.errors import CoinswarmError
from error_classes import every_error_class
from error_classes import instance as error_instance
from error_classes import name as error_name

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


# -- the error's class decides the exit code ------------------------------------------------------


@pytest.mark.parametrize("kind", every_error_class(), ids=error_name)
def test_every_error_class_ends_a_command_with_its_exit_code(
    kind: type[CoinswarmError], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = error_instance(kind)

    def command_fails(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr(status, "main", command_fails)  # `coinswarm status` ends with `exc`
    assert main(["status"]) == kind.exit_code
    out, err = capsys.readouterr()
    assert err == f"coinswarm status: {exc}\n" and "Traceback" not in out + err


def test_a_command_may_give_its_refusal_another_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def command_fails(args: argparse.Namespace) -> int:
        fail("the venue stopped answering; run it again to continue", code=1)

    monkeypatch.setattr(status, "main", command_fails)
    assert main(["status"]) == 1
    assert capsys.readouterr().err == "coinswarm status: the venue stopped answering; run it again to continue\n"
