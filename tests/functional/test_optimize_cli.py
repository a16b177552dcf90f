"""`coinswarm optimize` from the command line: two processes sharing one study through one storage URL
(as several machines share a PostgreSQL or MySQL one), the report in text, JSON and pictures, and
--apply's overlay read back by the configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from coinswarm.cli.main import main
from coinswarm.config.loader import load_settings
from coinswarm.marketdata.candle_files import write_candles
from coinswarm.marketdata.synthetic import synthetic_candles

START = 1_514_764_800
SPACE = """
[optimize]
min_trades = 0
seed = 3
purge_bars = 6

[optimize.space."agents.trend.fast"]
low = 5
high = 30

[optimize.space."committee.weights.trend"]
low = 0.2
high = 2.0

[optimize.space."committee.threshold"]
low = 0.3
high = 1.0
"""


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for i, symbol in enumerate(("AAA_USD", "BBB_USD")):
        candles = synthetic_candles(symbol.replace("_", "-"), 900, seed=21 + i, start_ts=START, timeframe_s=300)
        write_candles(tmp_path / f"{symbol}-5m.csv.gz", candles)
    (tmp_path / "coinswarm.toml").write_text(SPACE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COINSWARM_CONFIG", raising=False)
    return tmp_path


def _cli(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_")}
    return subprocess.Popen(
        [sys.executable, "-m", "coinswarm.cli.main", "optimize", "AAA_USD-5m.csv.gz", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(p: subprocess.Popen[str]) -> dict:
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    return json.loads(out)


def test_two_processes_share_one_study_through_one_storage_url(workdir: Path) -> None:
    storage = f"sqlite:///{workdir}/shared.db"
    common = ("--storage", storage, "--study", "shared", "--folds", "1", "--workers", "1", "--json", "--seed", "3")
    first = _finish(_cli(workdir, *common, "--trials", "3"))
    assert first["folds"][0]["trials"] == 3
    # A second process (another machine, pointed at the same URL) finds the 3 trials and adds the missing 3.
    second = _finish(_cli(workdir, *common, "--trials", "6"))
    trials = optuna.load_study(study_name="shared-fold0", storage=storage).get_trials()
    assert second["folds"][0]["trials"] == len(trials) == 6
    assert len({t.user_attrs["pid"] for t in trials}) == 2
    # Both at once: each runs trials until the study has 10; none is lost or numbered twice.
    both = [_cli(workdir, *common, "--trials", "10", "--seed", str(s)) for s in (4, 5)]
    for p in both:
        _finish(p)
    trials = optuna.load_study(study_name="shared-fold0", storage=storage).get_trials()
    assert 10 <= len(trials) <= 11
    assert len({t.number for t in trials}) == len(trials)
    assert all(t.state is optuna.trial.TrialState.COMPLETE for t in trials)


def test_the_report_leads_out_of_sample_and_apply_round_trips(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["optimize", "AAA_USD-5m.csv.gz", "BBB_USD-5m.csv.gz", "--trials", "3", "--folds", "2", "--workers", "1"]
    code = main([*args, "--plot", "wf.html", "--apply", "tuned.toml", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.index("OUT OF SAMPLE") < out.index("IN SAMPLE") < out.index("DROP OUT OF SAMPLE")
    assert "AAA-USD, BBB-USD" in out and "per fold" in out
    assert "the test windows are 1.0 days long" in out  # 900 bars of 5 minutes in 3 parts: the ratios are said weak
    assert (workdir / "tuned.toml").stat().st_mode & 0o777 == 0o644
    assert (workdir / ".coinswarm" / "optimize.db").is_file()  # the default storage
    html = (workdir / "wf.html").read_text()
    assert "<svg" in html and "buy and hold" in html
    assert "\n6 trials in " in out  # 3 trials in each of 2 folds, all run by this command

    # The same search again resumes the finished study, and --json gives the same chosen parameters.
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f["trials"] for f in report["folds"]] == [3, 3]
    assert [f["stored_trials"] for f in report["folds"]] == [3, 3]  # none run again
    assert set(report["out_of_sample"]) >= {"return_pct", "sharpe", "max_drawdown_pct", "trades"}
    assert len(report["stitched"]["equity"]) == len(report["stitched"]["buy_hold"]) == report["out_of_sample"]["bars"]

    # --apply's overlay, included by the configuration, puts every chosen value in effect.
    (workdir / "coinswarm.toml").write_text('include = ["tuned.toml"]\n' + SPACE)
    applied = load_settings(workdir / "coinswarm.toml", env={})
    chosen = report["chosen"]
    assert applied.agents["trend"]["fast"] == chosen["agents.trend.fast"]
    assert applied.committee.threshold == chosen["committee.threshold"]
    assert applied.committee.weights["trend"] == chosen["committee.weights.trend"]
    assert applied.committee.weights["mean_reversion"] == 1.0  # the agents it did not tune still vote


def test_a_png_picture(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["optimize", "AAA_USD-5m.csv.gz", "--trials", "2", "--folds", "2", "--workers", "1", "--plot", "wf.png"]
    assert main(args) == 0
    assert (workdir / "wf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_is_refused_with_what_to_do(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["optimize", "nothere.csv"]) == 2
    assert "no candle file at nothere.csv" in capsys.readouterr().err
    assert main(["optimize", "AAA_USD-5m.csv.gz", "--folds", "0"]) == 2
    assert "optimize.folds" in capsys.readouterr().err
    assert main(["optimize", "AAA_USD-5m.csv.gz", "--folds", "2", "--test-bars", "5000"]) == 2
    assert "give fewer or shorter folds" in capsys.readouterr().err
    code = main(["optimize", "AAA_USD-5m.csv.gz", "--storage", "postgresql://me:hunter22@127.0.0.1:1/x"])
    err = capsys.readouterr().err
    assert code == 2 and "hunter22" not in err and "storage" in err


def test_the_progress_bar_shows_trials_done_and_the_best_so_far() -> None:
    import io

    from coinswarm.cli.optimize import TrialProgress

    out = io.StringIO()
    bar = TrialProgress(out=out, enabled=True)
    bar.update(1, 5, 30, 60, "best sharpe 1.234 (#17)")
    bar.close()
    text = out.getvalue()
    assert "fold 2/5" in text and "30/60 trials" in text and "best sharpe 1.234 (#17)" in text
    assert text.endswith("\n")
    quiet = io.StringIO()
    TrialProgress(out=quiet, enabled=False).update(0, 1, 1, 1, "x")
    assert quiet.getvalue() == ""
