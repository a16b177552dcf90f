"""sizing: buy_notional has a default, buy_fraction none; giving buy_fraction replaces that default instead of
meeting it as a second buy size (issue 10, item 14)."""

from __future__ import annotations

import pytest

from coinswarm.config import ConfigError, Settings, load_settings


def test_buy_fraction_alone_in_toml_replaces_the_default_notional(tmp_path) -> None:
    file = tmp_path / "coinswarm.toml"
    file.write_text("[sizing]\nbuy_fraction = 0.25\n")
    sizing = load_settings(file, env={}).sizing
    assert sizing.buy_fraction == 0.25 and sizing.buy_notional is None


def test_buy_fraction_from_the_environment_replaces_it_too() -> None:
    sizing = load_settings(None, env={"COINSWARM_SIZING__BUY_FRACTION": "0.1"}).sizing
    assert sizing.buy_fraction == 0.1 and sizing.buy_notional is None


def test_the_default_is_a_notional_and_a_given_notional_stands() -> None:
    assert Settings().sizing.buy_notional == 1_000.0 and Settings().sizing.buy_fraction is None
    sizing = load_settings(None, env={"COINSWARM_SIZING__BUY_NOTIONAL": "250"}).sizing
    assert sizing.buy_notional == 250.0 and sizing.buy_fraction is None


def test_both_given_is_refused_naming_the_fields(tmp_path) -> None:
    file = tmp_path / "coinswarm.toml"
    file.write_text("[sizing]\nbuy_notional = 500.0\nbuy_fraction = 0.25\n")
    with pytest.raises(ConfigError, match="set exactly one of buy_notional and buy_fraction"):
        load_settings(file, env={})


def test_a_fraction_sizing_survives_the_dump_and_validate_round_trip(tmp_path) -> None:
    """The commands re-validate a dumped configuration (overrides, the run's state path)."""
    file = tmp_path / "coinswarm.toml"
    file.write_text("[sizing]\nbuy_fraction = 0.5\n")
    settings = load_settings(file, env={})
    again = Settings.model_validate(settings.model_dump())
    assert again.sizing == settings.sizing
