"""Agents and their parameters are checked when the configuration loads (issue 10, item 15): every command
refuses an unknown agent or a parameter an agent does not take the same way, naming the setting and the
closest valid name."""

from __future__ import annotations

import pytest

from coinswarm.cli.main import main
from coinswarm.config import ConfigError, Settings, load_settings

UNKNOWN_AGENT = "[committee.weights]\ntrend = 1.0\nmean_reversal = 1.0\n"
WRONG_PARAMETER = "[agents.trend]\nfsat = 10\n"


def test_an_unknown_agent_is_refused_at_load_naming_the_weight(tmp_path) -> None:
    (tmp_path / "c.toml").write_text(UNKNOWN_AGENT)
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "c.toml", env={})
    text = str(exc.value)
    assert "committee.weights.mean_reversal: no agent 'mean_reversal'" in text
    assert "did you mean 'mean_reversion'?" in text and "Traceback" not in text


def test_a_parameter_the_agent_does_not_take_is_refused_naming_it(tmp_path) -> None:
    (tmp_path / "c.toml").write_text(WRONG_PARAMETER)
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "c.toml", env={})
    text = str(exc.value)
    assert "agents.trend.fsat: agent 'trend' has no parameter 'fsat' (did you mean 'fast'?)" in text
    assert "fast, slow, atr, full_spread" in text


def test_parameters_the_agent_refuses_are_refused_at_load(tmp_path) -> None:
    (tmp_path / "c.toml").write_text("[agents.trend]\nfast = 50\nslow = 10\n")
    with pytest.raises(ConfigError, match=r"agents\.trend: agent 'trend' refuses fast = 50, slow = 10"):
        load_settings(tmp_path / "c.toml", env={})


def test_parameters_without_a_weight_are_refused_with_the_closest_agent(tmp_path) -> None:
    (tmp_path / "c.toml").write_text("[agents.trnd]\nfast = 10\n")
    with pytest.raises(ConfigError, match=r"agents\.trnd: parameters for an agent that has no weight.*'trend'"):
        load_settings(tmp_path / "c.toml", env={})


def test_an_environment_override_is_checked_too(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"agents\.trend\.fsat.*\[from environment COINSWARM_AGENTS__TREND__FSAT\]"):
        load_settings(env={"COINSWARM_AGENTS__TREND__FSAT": "10"})


def test_a_settings_model_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValueError, match=r"committee\.weights\.momentum"):
        Settings.model_validate({"committee": {"weights": {"trend": 1.0, "momentum": 1.0}}})


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--synthetic", "--cycles", "1", "--wiring", "fused"],
        ["backtest", "BTC_USD-1m.csv"],
        ["config", "show"],
        ["budget"],
    ],
    ids=lambda c: c[0],
)
@pytest.mark.parametrize(
    ("toml", "field"),
    [(UNKNOWN_AGENT, "committee.weights.mean_reversal"), (WRONG_PARAMETER, "agents.trend.fsat")],
    ids=["unknown-agent", "wrong-parameter"],
)
def test_every_command_refuses_it_the_same_way(command, toml, field, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COINSWARM_CONFIG", raising=False)
    (tmp_path / "coinswarm.toml").write_text(toml)
    (tmp_path / "BTC_USD-1m.csv").write_text("date,open,high,low,close,volume\n")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"coinswarm {command[0]}: invalid configuration:\n  - {field}: " in err
    assert "Traceback" not in err
    assert not (tmp_path / ".coinswarm").exists(), "nothing was started"


def test_two_agents_with_one_name_are_refused_at_load() -> None:
    weights = {"trend": 1.0, "coinswarm.domain.agents.trend:TrendAgent": 1.0}
    with pytest.raises(ValueError, match=r"are both called 'trend'"):
        Settings.model_validate({"committee": {"weights": weights}})
