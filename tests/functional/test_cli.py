"""The `coinswarm` command as a user types it: run, status, ledger verify, backtest, config, kill switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from functional_builders import series

from coinswarm.cli.main import main, parser
from coinswarm.marketdata.candle_files import write_candles

COMMANDS = [
    [],
    ["run"],
    ["backtest"],
    ["status"],
    ["ledger"],
    ["ledger", "verify"],
    ["config"],
    ["config", "show"],
    ["kill-switch"],
]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "coinswarm")
def test_every_command_has_help(words, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args([*words, "--help"])
    assert exc.value.code == 0
    assert len(capsys.readouterr().out) > 200


def test_synthetic_run_then_status_then_verify(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "s.db"
    assert main(["run", "--synthetic", "--cycles", "40", "--state", str(state), "--wiring", "fused"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "session summary: 40 cycles" in out
    assert f"state file  {state}" in out and "coinswarm status --state" in out
    cycle_lines = [line for line in out.splitlines() if " | " in line]
    assert len(cycle_lines) == 3 * 40
    assert all(any(a in line for a in ("HOLD", "BUY", "SELL")) for line in cycle_lines)
    assert main(["status", "--state", str(state), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["mode"] == "paper" and status["kill_switch"]["on"] is False
    assert len(status["decisions"]) == 10 and status["cash"] > 0
    assert main(["status", "--state", str(state)]) == 0
    text = capsys.readouterr().out
    assert "kill switch  off" in text and "last decisions" in text
    assert main(["ledger", "verify", "--state", str(state)]) == 0
    assert "OK" in capsys.readouterr().out


def test_verify_fails_when_the_projection_was_tampered_with(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "s.db"
    main(["run", "--synthetic", "--cycles", "5", "--state", str(state)])
    from coinswarm.adapters.sqlite_store import SqliteStore

    store = SqliteStore(state)
    found = store.get_projection("account:paper")
    assert found is not None
    store.put_projection(
        "account:paper", {**found.value, "cash": found.value["cash"] + 1}, expected_version=found.version
    )
    store.close()
    capsys.readouterr()
    assert main(["ledger", "verify", "--state", str(state)]) == 1
    assert "cash: events give" in capsys.readouterr().out


def test_replay_a_candle_file(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    csv = write_candles(tmp_path / "ETH_USD-1m.csv.gz", series(n=400, symbols=("ETH-USD",))["ETH-USD"])
    assert main(["run", "--replay", str(csv), "--cycles", "1000", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "replay of ETH_USD-1m.csv.gz" in out and "ETH-USD" in out
    assert "session summary: 201 cycles" in out  # 400 candles, 199 of them warm-up
    assert Path(".coinswarm/replay-ETH_USD-1m.db").exists()


def test_backtest_json_has_the_promised_keys(tmp_path, capsys) -> None:
    csv = write_candles(tmp_path / "BTC_USD-1m.csv", series(n=3000, symbols=("BTC-USD",))["BTC-USD"])
    assert main(["backtest", str(csv), "--json", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in (
        "trades",
        "final_equity",
        "return_pct",
        "max_drawdown_pct",
        "sharpe",
        "win_rate_pct",
        "bars",
        "elapsed_s",
    ):
        assert key in result
    assert result["bars"] == 3000 and result["final_equity"] > 0
    assert main(["backtest", str(csv), "--strategy", "sma-cross", "--fast", "5", "--slow", "30", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "sma-cross" in out and "Max drawdown" in out and "Win rate" in out and "Exposure" in out


def test_backtest_plot_draws_a_png(tmp_path, capsys) -> None:
    csv = write_candles(tmp_path / "BTC_USD-1m.csv", series(n=1500, symbols=("BTC-USD",))["BTC-USD"])
    png = tmp_path / "equity.png"
    assert main(["backtest", str(csv), "--strategy", "sma-cross", "--plot", str(png), "--no-progress"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_bad_candle_file_is_refused_naming_the_line(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T00:01:00Z,1,0.5,2,1.5,10\n"
    )
    assert main(["backtest", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "bad.csv" in err


def test_config_show_masks_secrets(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "COINSWARM_VENUES", '[{"name": "coinbase", "fee_bps": 60, "api_key": "k-SECRET", "api_secret": "s-SECRET"}]'
    )
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "SECRET" not in out and "**********" in out and "[[venues]]" in out
    monkeypatch.setenv("COINSWARM_RISK__MAX_DAILY_LOSS", "-1")
    assert main(["config", "show"]) == 2
    assert "risk.max_daily_loss" in capsys.readouterr().err


def test_kill_switch_round_trip(tmp_path, capsys) -> None:
    state = tmp_path / "k.db"
    assert main(["kill-switch", "on", "--reason", "maintenance", "--state", str(state)]) == 0
    assert main(["kill-switch", "status", "--state", str(state)]) == 0
    assert "ON" in capsys.readouterr().out
    assert main(["status", "--state", str(state)]) == 0
    assert "kill switch  ON: maintenance" in capsys.readouterr().out


def test_status_without_a_state_file_says_what_to_do(tmp_path, capsys) -> None:
    assert main(["status", "--state", str(tmp_path / "none.db")]) == 2
    assert "run `coinswarm run` first" in capsys.readouterr().err


def test_the_console_script_is_installed() -> None:
    done = subprocess.run(
        [Path(sys.executable).parent / "coinswarm", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("coinswarm ")


def test_a_missing_file_is_named(tmp_path, capsys) -> None:
    assert main(["backtest", str(tmp_path / "nope.csv")]) == 2
    assert main(["run", "--replay", str(tmp_path / "nope.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("no candle file at") == 2


def test_a_second_run_on_the_same_state_file_is_refused(tmp_path, capsys, monkeypatch) -> None:
    """The state file's lock, held here as another run would hold it (tests/functional/test_run_signals.py
    does it with a real second process)."""
    monkeypatch.chdir(tmp_path)
    from coinswarm.cli.state_lock import StateFileLock

    state = tmp_path / "busy.db"
    with StateFileLock(state):
        assert main(["run", "--synthetic", "--cycles", "2", "--state", str(state)]) == 3
        err = capsys.readouterr().err
        assert f"another `coinswarm run` (process {os.getpid()}) is trading on {state}" in err
        assert not state.exists()  # refused before anything touched it: not even created
    assert main(["run", "--synthetic", "--cycles", "2", "--state", str(state)]) == 0


def test_after_a_run_every_command_finds_its_state_file_without_state(tmp_path, capsys, monkeypatch) -> None:
    """`make run` offline writes .coinswarm/synthetic.db, not store.path: status, ledger verify and the kill
    switch must look there, not at an empty .coinswarm/coinswarm.db (issue 10, item 12)."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--synthetic", "--cycles", "30", "--wiring", "fused", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == str(Path(".coinswarm/synthetic.db")) and len(status["decisions"]) == 10
    assert main(["ledger", "verify"]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["kill-switch", "on", "--reason", "lunch"]) == 0
    assert "state .coinswarm/synthetic.db" in capsys.readouterr().out
    assert main(["status", "--state", ".coinswarm/synthetic.db"]) == 0
    assert "kill switch  ON: lunch" in capsys.readouterr().out
    assert not Path(".coinswarm/coinswarm.db").exists()  # no empty account made beside the run's


def test_the_last_run_decides_and_a_replay_is_found_too(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    csv = write_candles(tmp_path / "ETH_USD-1m.csv.gz", series(n=400, symbols=("ETH-USD",))["ETH-USD"])
    assert main(["run", "--synthetic", "--cycles", "3", "--quiet"]) == 0
    assert main(["run", "--replay", str(csv), "--cycles", "3", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    assert "state .coinswarm/replay-ETH_USD-1m.db" in capsys.readouterr().out


def test_with_no_run_yet_the_kill_switch_creates_nothing_and_says_what_to_name(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["kill-switch", "on"]) == 2
    err = capsys.readouterr().err
    assert str(Path(".coinswarm/coinswarm.db")) in err and "--state PATH" in err
    assert not Path(".coinswarm").exists()
    Path(".coinswarm").mkdir()
    from coinswarm.adapters.sqlite_store import SqliteStore

    SqliteStore(".coinswarm/old-session.db").close()  # a state file from before runs were noted
    assert main(["status"]) == 2
    assert "the state files in .coinswarm are .coinswarm/old-session.db" in capsys.readouterr().err
    assert main(["kill-switch", "on", "--state", "new.db"]) == 0  # named: created, and said so
    captured = capsys.readouterr()
    assert "new.db did not exist; it is created now" in captured.err and "kill switch ON" in captured.out


def test_a_replay_runs_its_whole_file_and_says_how_many_candles_warm_up(tmp_path, capsys, monkeypatch) -> None:
    """Not 240 cycles and stop (issue 10, item 13)."""
    monkeypatch.chdir(tmp_path)
    csv = write_candles(tmp_path / "ETH_USD-1m.csv.gz", series(n=800, symbols=("ETH-USD",))["ETH-USD"])
    assert main(["run", "--replay", str(csv), "--quiet"]) == 0
    out = capsys.readouterr().out
    # market.warmup_candles = 300: the first cycle trades on the 300th candle, having seen the 299 before it
    assert "800 candles: the first 299 taken as warm-up before trading" in out
    assert "then 501 cycles to the end" in out and "session summary: 501 cycles" in out
    assert main(["run", "--replay", str(csv), "--quiet", "--cycles", "50"]) == 0
    out = capsys.readouterr().out
    assert "then 50 cycles of the 501 left (--cycles)" in out and "session summary: 50 cycles" in out
