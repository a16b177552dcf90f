"""The one configuration: defaults, file + environment, refusals naming the field, masking."""

import json

import pytest

from coinswarm.config import ConfigError, load_settings
from coinswarm.config.loader import masked_dump


def test_defaults_are_safe(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    assert s.mode == "paper" and s.committee.threshold == 0.8
    assert s.symbols == ("BTC-USD", "ETH-USD", "SOL-USD") and s.wiring == "mesh" and s.timeframe_s == 60


def test_file_then_environment(tmp_path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        'symbols = ["BTC-USD"]\n[risk]\nmax_daily_loss = 100\n[committee.weights]\ntrend = 2.0\nmean_reversion = 1.0\n'
    )
    s = load_settings(f, env={"COINSWARM_RISK__MAX_DAILY_LOSS": "250", "COINSWARM_COMMITTEE__QUORUM": "1"})
    assert s.symbols == ("BTC-USD",)
    assert s.risk.max_daily_loss == 250  # the environment wins over the file
    assert s.committee.weights == {"trend": 2.0, "mean_reversion": 1.0} and s.committee.quorum == 1


def test_comma_list_from_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={"COINSWARM_SYMBOLS": "BTC-USD, ETH-USD"}).symbols == ("BTC-USD", "ETH-USD")


@pytest.mark.parametrize(
    ("env", "field", "why"),
    [
        ({"COINSWARM_RISK__MAX_DAILY_LOSS": "-5"}, "risk.max_daily_loss", "greater than 0"),
        ({"COINSWARM_COMMITTEE__THRESHOLD": "1.5"}, "committee.threshold", "less than or equal to 1"),
        ({"COINSWARM_SYMBOLS": "btc"}, "symbols", "not a symbol like BTC-USD"),
        ({"COINSWARM_TIMEFRAME": "7m"}, "timeframe", "not a timeframe"),
        ({"COINSWARM_COMMITTEE__QUORUM": "5"}, "committee", "quorum 5 exceeds"),
        ({"COINSWARM_RISK__MAX_DAILY_LOS": "5"}, "risk.max_daily_los", "unknown setting"),
        ({"COINSWARM_MODE": "live"}, "(whole configuration)", "live.confirm = true"),
    ],
)
def test_bad_values_are_refused_naming_field_origin_and_reason(tmp_path, monkeypatch, env, field, why) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as exc:
        load_settings(env=env)
    text = str(exc.value)
    assert f"  - {field}:" in text and why in text
    assert "[from environment" in text or field == "(whole configuration)"


def test_file_errors_name_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk\n")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_settings(bad, env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env={})
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[paper]\nfee_bps = -1\n")
    with pytest.raises(ConfigError, match=r"paper.fee_bps: .*\[from file .*wrong.toml\]"):
        load_settings(wrong, env={})


def test_secrets_are_masked_and_never_echoed(tmp_path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        '[[venues]]\nname = "coinbase"\nfee_bps = 60\n'
        'api_key = "organizations/xyz/apiKeys/SECRET-KEY-1"\napi_secret = "TOPSECRET"\n'
    )
    s = load_settings(f, env={})
    dumped = json.dumps(masked_dump(s))
    assert "SECRET-KEY-1" not in dumped and "TOPSECRET" not in dumped and "**********" in dumped
    bad = tmp_path / "bad.toml"
    bad.write_text('[[venues]]\nname = "coinbase"\nfee_bps = 60\napi_key = ["TOPSECRET"]\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(bad, env={})
    assert "TOPSECRET" not in str(exc.value) and "venues.0.api_key" in str(exc.value)


def test_live_needs_confirmation_and_keys(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="needs api_key and api_secret"):
        load_settings(env={"COINSWARM_MODE": "live", "COINSWARM_LIVE__CONFIRM": "true"})


def test_the_example_file_documents_the_defaults() -> None:
    """coinswarm.example.toml shows every default; if a default changes, the example must change too."""
    import inspect
    from pathlib import Path

    from coinswarm.agent_registry import agent_class
    from coinswarm.config.settings import Settings

    example = Path(__file__).resolve().parents[2] / "coinswarm.example.toml"
    loaded = load_settings(example, env={}).model_dump()
    defaults = Settings().model_dump()
    assert {k: v for k, v in loaded.items() if k != "agents"} == {k: v for k, v in defaults.items() if k != "agents"}
    assert loaded["agents"], "the example shows the agents' parameters"
    for name, params in loaded["agents"].items():
        signature = inspect.signature(agent_class(name).__init__)
        for key, value in params.items():
            assert signature.parameters[key].default == value, f"[agents.{name}] {key}"


def test_cosmos_history_needs_its_endpoint_and_key(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"needs azure\.cosmos_endpoint and azure\.cosmos_key"):
        load_settings(env={"COINSWARM_STORE__HISTORY": "cosmos"})
    s = load_settings(
        env={
            "COINSWARM_STORE__HISTORY": "cosmos",
            "COINSWARM_AZURE__COSMOS_ENDPOINT": "http://127.0.0.1:3000",
            "COINSWARM_AZURE__COSMOS_KEY": "c2VjcmV0",
        }
    )
    assert s.store.history == "cosmos" and "c2VjcmV0" not in json.dumps(masked_dump(s))


def test_deployment_plumbing_variables_are_not_settings(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(
        env={
            "COINSWARM_MANUAL_TRADE_SECRET": "a-long-enough-secret-value",
            "COINSWARM_QUEUE_URL_CANDLES": "http://127.0.0.1:1/queue/candles",
            "COINSWARM_RISK__MAX_DAILY_LOSS": "250",
        }
    )
    assert s.risk.max_daily_loss == 250
    assert "a-long-enough-secret-value" not in json.dumps(masked_dump(s))
