"""The look-ahead check: every built-in agent is clean on real data, and an agent written to peek is
caught at the bars where it used the future, by the library and by `coinswarm check-bias`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coinswarm.cli.main import main
from coinswarm.domain.agents.registry import BUILTIN_PACKAGE
from coinswarm.marketdata.candle_files import load_candles
from coinswarm.research.bias import check_bias, sample_points
from peeking_agent import PeekingAgent

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ohlcv"
BUILTIN = ["trend", "mean_reversion", "arbitrage", "sma_cross", "learned", "llm"]


@pytest.fixture(scope="module")
def candles() -> list:
    path = DATA / "ETH_BTC-5m.csv.gz"
    if not path.exists():
        pytest.skip(f"the reference data is not beside the project ({path})")
    return load_candles(path).candles[:2_500]


def test_the_builtin_list_is_every_builtin_agent() -> None:
    files = {p.stem for p in Path(__import__(BUILTIN_PACKAGE, fromlist=["x"]).__file__).parent.glob("*.py")}
    assert set(BUILTIN) == files - {"__init__", "base", "registry"}


@pytest.mark.parametrize("agent", BUILTIN)
def test_every_builtin_agent_is_clean(agent: str, candles: list) -> None:
    report = check_bias(agent, {}, candles, samples=25)
    assert len(report.sampled) == 25
    assert report.clean, report.differences[:3]


def test_an_agent_that_peeks_is_caught(candles: list) -> None:
    PeekingAgent.seen.clear()
    report = check_bias("peeking_agent:PeekingAgent", {}, candles, samples=20)
    assert not report.clean
    assert {d.bar for d in report.differences} == set(report.sampled)
    d = report.differences[0]
    assert d.full.confidence == 0.0 and d.cut.confidence == 1.0


def test_the_command_reports_and_fails_on_a_peek(candles: list, capsys: pytest.CaptureFixture[str]) -> None:
    PeekingAgent.seen.clear()
    path = str(DATA / "ETH_BTC-5m.csv.gz")
    code = main(["check-bias", path, "--agent", "trend", "--agent", "peeking_agent:PeekingAgent", "--samples", "5",
                 "--json", "--no-progress"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(a["agent"], a["clean"]) for a in out["agents"]] == [("trend", True), ("peeking", False)]
    assert len(out["agents"][1]["differences"]) == 5


def test_an_unknown_agent_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-bias", str(DATA / "ETH_BTC-5m.csv.gz"), "--agent", "nosuch", "--no-progress"])
    assert code == 2
    assert "no agent 'nosuch'" in capsys.readouterr().err


def test_sample_points_spread_over_the_file_and_skip_the_last_bar() -> None:
    assert sample_points(11, 3) == [0, 4, 9]
    assert sample_points(2, 5) == [0]
    assert sample_points(1, 5) == []
