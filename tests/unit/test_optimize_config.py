"""The search space and objectives of `coinswarm optimize`, the overlay --apply writes, and the
configuration's `include` that reads it back."""

from __future__ import annotations

import math

import optuna
import pytest

from coinswarm.config.loader import ConfigError, load_settings
from coinswarm.config.settings import Settings
from coinswarm.research.objectives import WORST, score
from coinswarm.research.overlay import overlay_params, read_overlay, to_toml, write_overlay
from coinswarm.research.space import InvalidParamsError, default_space, split_path, suggest, with_params

FIGURES = {
    "return_pct": 12.0,
    "max_drawdown_pct": -4.0,
    "sharpe": 1.5,
    "sortino": 2.5,
    "calmar": 3.0,
    "profit": 1200.0,
    "trades": 10,
}


def test_each_objective_reads_its_figure() -> None:
    assert score("sharpe", FIGURES, 10) == 1.5
    assert score("sortino", FIGURES, 10) == 2.5
    assert score("calmar", FIGURES, 10) == 3.0
    assert score("return_dd", FIGURES, 10) == 3.0  # 12 % over a 4 % drawdown
    assert score("profit", FIGURES, 10) == 1200.0


def test_too_few_trades_or_an_undefined_figure_scores_the_worst() -> None:
    assert score("sharpe", FIGURES, 11) == WORST
    assert score("sharpe", {**FIGURES, "sharpe": math.nan}, 1) == WORST
    assert score("sharpe", {**FIGURES, "trades": 0}, 0) == WORST  # doing nothing never wins
    with pytest.raises(ValueError, match="unknown objective"):
        score("sqn", FIGURES, 1)


def test_every_draw_of_the_default_space_is_a_valid_configuration() -> None:
    settings = Settings()
    space = default_space(settings)
    assert {"agents.trend.fast", "committee.threshold", "committee.quorum", "sizing.buy_fraction"} <= set(space)
    assert {"committee.weights.trend", "agents.mean_reversion.period", "agents.arbitrage.min_edge_bps"} <= set(space)
    assert {"exits.stop_loss_pct", "exits.roi.0", "exits.trailing_stop_pct", "exits.max_hold_minutes"} <= set(space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(40):
        trial = study.ask()
        params = suggest(trial, space)
        tuned = with_params(settings, params)  # raises if the configuration refuses the draw
        assert tuned.agents["trend"]["fast"] == params["agents.trend.fast"]
        assert tuned.sizing.buy_fraction == params["sizing.buy_fraction"] and tuned.sizing.buy_notional is None
        assert tuned.exits.stop_loss_pct == params["exits.stop_loss_pct"]
        assert tuned.exits.roi == {"0": params["exits.roi.0"]}
        hold = params["exits.max_hold_minutes"]
        assert tuned.exits.max_hold_minutes == (None if hold == "off" else hold)
        study.tell(trial, 0.0)


def test_integer_ranges_draw_integers_and_choices_draw_from_the_list() -> None:
    settings = Settings.model_validate(
        {
            "optimize": {
                "space": {
                    "agents.trend.fast": {"low": 5, "high": 9},
                    "committee.threshold": {"low": 0.5, "high": 1},
                    "exits.trailing_only_offset_reached": {"choices": [True, False]},
                }
            }
        }
    )
    space = settings.optimize.space
    assert space["agents.trend.fast"].integer and not space["committee.threshold"].integer
    trial = optuna.create_study().ask()
    drawn = suggest(trial, space)
    assert isinstance(drawn["agents.trend.fast"], int) and 5 <= drawn["agents.trend.fast"] <= 9
    assert isinstance(drawn["committee.threshold"], float)
    assert drawn["exits.trailing_only_offset_reached"] in (True, False)


def test_a_bad_range_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="low <= high"):
        Settings.model_validate({"optimize": {"space": {"committee.threshold": {"low": 0.9, "high": 0.1}}}})


def test_params_the_configuration_refuses_say_which_setting() -> None:
    with pytest.raises(InvalidParamsError, match="quorum 7 exceeds"):
        with_params(Settings(), {"committee.quorum": 7})
    with pytest.raises(InvalidParamsError, match="no parameter 'fats'"):
        with_params(Settings(), {"agents.trend.fats": 7})


def test_an_agent_name_with_dots_stays_whole() -> None:
    assert split_path("agents.pkg.mod:Cls.window") == ["agents", "pkg.mod:Cls", "window"]
    assert split_path("committee.weights.pkg.mod:Cls") == ["committee", "weights", "pkg.mod:Cls"]
    assert split_path("exits.stop_loss_pct") == ["exits", "stop_loss_pct"]


PARAMS = {
    "agents.trend.fast": 9,
    "exits.roi.0": 2.5,
    "exits.trailing_stop_pct": "off",
    "agents.trend.full_spread": 1.2345678901234567,
    "committee.weights.trend": 0.7,
    "committee.threshold": 0.55,
    "committee.quorum": 1,
    "sizing.buy_fraction": 0.3,
}


def test_the_overlay_round_trips_through_include(tmp_path) -> None:
    written = overlay_params(Settings(), PARAMS)
    assert written == {**PARAMS, "committee.weights.mean_reversion": 1.0, "committee.weights.arbitrage": 1.0}
    overlay = write_overlay(tmp_path / "tuned.toml", written, "chosen by a test")
    assert read_overlay(overlay) == written
    (tmp_path / "coinswarm.toml").write_text(
        'include = ["tuned.toml"]\n[committee]\nthreshold = 0.9\n[agents.trend]\nslow = 150\n'
    )
    s = load_settings(tmp_path / "coinswarm.toml", env={})
    assert with_params(s, PARAMS) == s  # every chosen value is in effect, exactly
    assert s.agents["trend"] == {"fast": 9, "full_spread": 1.2345678901234567, "slow": 150}  # tables merge
    assert s.committee.threshold == 0.55  # the overlay wins over the including file
    assert s.committee.weights["mean_reversion"] == 1.0  # what it does not set stays


def test_the_environment_still_wins_over_an_include(tmp_path) -> None:
    write_overlay(tmp_path / "tuned.toml", PARAMS)
    (tmp_path / "coinswarm.toml").write_text('include = "tuned.toml"\n')
    s = load_settings(tmp_path / "coinswarm.toml", env={"COINSWARM_COMMITTEE__THRESHOLD": "0.4"})
    assert s.committee.threshold == 0.4


def test_a_missing_or_circular_include_is_refused(tmp_path) -> None:
    (tmp_path / "a.toml").write_text('include = ["gone.toml"]\n')
    with pytest.raises(ConfigError, match=r"include 'gone\.toml': no such file"):
        load_settings(tmp_path / "a.toml", env={})
    (tmp_path / "a.toml").write_text('include = ["b.toml"]\n')
    (tmp_path / "b.toml").write_text('include = ["a.toml"]\n')
    with pytest.raises(ConfigError, match="circle"):
        load_settings(tmp_path / "a.toml", env={})
    (tmp_path / "c.toml").write_text("include = 3\n")
    with pytest.raises(ConfigError, match="list of file names"):
        load_settings(tmp_path / "c.toml", env={})


def test_a_wrong_value_in_an_overlay_names_the_overlay(tmp_path) -> None:
    (tmp_path / "tuned.toml").write_text(to_toml({"committee.threshold": 3.0}))
    (tmp_path / "coinswarm.toml").write_text('include = ["tuned.toml"]\n')
    with pytest.raises(ConfigError, match=r"committee\.threshold.*tuned\.toml"):
        load_settings(tmp_path / "coinswarm.toml", env={})
