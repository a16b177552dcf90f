"""`coinswarm agent new NAME` (issue 10, item 20): a documented skeleton and its tests, which pass with the
project's pytest; the agent then trades from its file, named in the configuration, with no PYTHONPATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from coinswarm.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("COINSWARM_")}


def test_agent_new_writes_a_skeleton_whose_tests_pass(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["agent", "new", "momentum"]) == 0
    out = capsys.readouterr().out
    assert '[agents.momentum]\n       path = "agents/momentum.py"' in out
    agent_file, test_file = tmp_path / "agents" / "momentum.py", tmp_path / "agents" / "test_momentum.py"
    assert "class MomentumAgent(Agent):" in agent_file.read_text()
    assert "def reset" not in agent_file.read_text(), "observe (and the optional __init__) is all it needs"
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-c",
            str(REPO / "pyproject.toml"),
            "-p",
            "no:cacheprovider",
            str(test_file),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(),
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "7 passed" in tests.stdout


def test_agent_new_refuses_to_overwrite_or_shadow(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["agent", "new", "momentum"]) == 0
    before = (tmp_path / "agents" / "momentum.py").read_text()
    assert main(["agent", "new", "momentum"]) == 2
    assert "already exists; nothing was written" in capsys.readouterr().err
    assert (tmp_path / "agents" / "momentum.py").read_text() == before
    assert main(["agent", "new", "trend"]) == 2
    assert main(["agent", "new", "Bad-Name"]) == 2
    assert "is a built-in agent" in capsys.readouterr().err


def test_a_new_agent_trades_from_its_file_without_pythonpath(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["agent", "new", "momentum"]) == 0
    (tmp_path / "coinswarm.toml").write_text(
        "[committee.weights]\ntrend = 1.0\nmean_reversion = 1.0\nmomentum = 1.0\n\n"
        '[agents.momentum]\npath = "agents/momentum.py"\nperiod = 5\n'
    )
    # -P: the working directory is not put on sys.path (the `coinswarm` script does not put it there either)
    run = subprocess.run(
        [sys.executable, "-P", "-m", "coinswarm.cli.main", "run", "--synthetic", "--cycles", "8", "--wiring", "mesh"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(),
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    votes = [line for line in run.stdout.splitlines() if " | " in line]
    assert len(votes) == 3 * 8
    assert all("moment" in line for line in votes)
    assert any("moment --" not in line for line in votes[-3:]), "warm after 5 candles: it votes"


def test_agent_list_shows_each_agent_its_parameters_and_where_it_comes_from(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COINSWARM_CONFIG", raising=False)
    assert main(["agent", "new", "momentum"]) == 0
    (tmp_path / "coinswarm.toml").write_text(
        "[committee.weights]\ntrend = 2.0\nmomentum = 1.0\n\n"
        '[agents.momentum]\npath = "agents/momentum.py"\nperiod = 7\n'
    )
    capsys.readouterr()
    assert main(["agent", "list"]) == 0
    out = capsys.readouterr().out
    assert "trend  (weight 2)\n    fast = 20\n    slow = 100\n" in out
    assert f"momentum  (weight 1, from {tmp_path / 'agents' / 'momentum.py'})\n    period = 7   (set)\n" in out
    assert "sma_cross  (not configured)" in out
