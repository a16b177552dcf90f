"""`coinswarm deploy tfvars`: the configuration as Terraform variables, secrets never written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coinswarm.cli.main import main as coinswarm
from coinswarm.config.deploy import FUNCTIONS, deployed_name
from servers.terraform import TERRAFORM_DIR, load_module


def _write(tmp_path: Path, toml: str) -> dict:  # type: ignore[type-arg]
    config = tmp_path / "coinswarm.toml"
    config.write_text(toml)
    out = tmp_path / "vars.auto.tfvars.json"
    assert coinswarm(["deploy", "tfvars", "--config", str(config), "--out", str(out)]) == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_symbols_cadence_placement_memory_chain_and_retention_come_from_the_configuration(tmp_path: Path) -> None:
    tfvars = _write(
        tmp_path,
        'symbols = ["BTC-USD"]\ntimeframe = "15m"\n[deploy]\nplacement = { agent_scoring = "gcp" }\n'
        'memory_mb = 384\nlog_retention_days = 30\n[aws]\ntable_prefix = "bot1"\n[gcp]\nproject = "my-proj"\n',
    )
    assert tfvars["symbols"] == ["BTC-USD"]
    assert (tfvars["timeframe"], tfvars["cycle_minutes"]) == ("15m", 15)
    assert tfvars["placement"] == {**dict.fromkeys(FUNCTIONS, "aws"), "agent_scoring": "gcp"}
    assert (tfvars["memory_mb"], tfvars["log_retention_days"], tfvars["chain"]) == (384, 30, "invoke")
    assert (tfvars["name_prefix"], tfvars["gcp_project"]) == ("bot1", "my-proj")
    assert tfvars["settings_environment"] == {"COINSWARM_SYMBOLS": '["BTC-USD"]', "COINSWARM_TIMEFRAME": '"15m"'}


def test_every_variable_written_is_one_the_root_module_declares(tmp_path: Path) -> None:
    tfvars = _write(tmp_path, "")
    declared = load_module(TERRAFORM_DIR).variables
    assert set(tfvars) <= set(declared), f"undeclared: {set(tfvars) - set(declared)}"
    example = load_module(TERRAFORM_DIR / "examples" / "aws-only").variables
    assert set(tfvars) <= set(example), f"undeclared in the example: {set(tfvars) - set(example)}"


def test_secrets_mode_and_store_plumbing_are_never_written(tmp_path: Path) -> None:
    tfvars = _write(
        tmp_path,
        '[[venues]]\nname = "coinbase"\nfee_bps = 40.0\napi_key = "fake-key-123"\napi_secret = "fake-secret-456"\n'
        '[azure]\ncosmos_endpoint = "https://x.documents.azure.com"\ncosmos_key = "fake-cosmos-key-789"\n'
        '[store]\nhistory = "cosmos"\n[risk]\nmax_daily_loss = 250.0\n'
        "[committee.weights]\ntrend = 2.0\nmean_reversion = 1.0\n",
    )
    text = json.dumps(tfvars)
    for secret in ("fake-key-123", "fake-secret-456", "fake-cosmos-key-789"):
        assert secret not in text
    env = tfvars["settings_environment"]
    assert env["COINSWARM_RISK__MAX_DAILY_LOSS"] == "250.0"
    assert json.loads(env["COINSWARM_VENUES"]) == [{"name": "coinbase", "fee_bps": 40.0}]
    assert json.loads(env["COINSWARM_COMMITTEE__WEIGHTS"]) == {"trend": 2.0, "mean_reversion": 1.0}
    assert not [
        k for k in env if k.startswith(("COINSWARM_STORE", "COINSWARM_AZURE", "COINSWARM_MODE", "COINSWARM_LIVE"))
    ]


def test_the_environment_loads_back_into_the_same_settings(tmp_path: Path) -> None:
    from coinswarm.config import load_settings

    toml = (
        'symbols = ["ETH-USD", "SOL-USD"]\n[committee]\nquorum = 1\n'
        "[committee.cache]\nmax_entries = 64\n[agents.trend]\nfast = 12\n"
    )
    env = _write(tmp_path, toml)["settings_environment"]
    from_env = load_settings(env=env)
    from_file = load_settings(tmp_path / "coinswarm.toml", env={})
    assert from_env == from_file


def test_a_retention_cloudwatch_does_not_offer_is_refused_with_the_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "coinswarm.toml"
    config.write_text("[deploy]\nlog_retention_days = 10\n")
    assert coinswarm(["deploy", "tfvars", "--config", str(config), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "log_retention_days = 10" in err and "14" in err
    assert not (tmp_path / "x.json").exists()


def test_function_names_are_the_codes_deployed_names_with_the_configured_prefix(tmp_path: Path) -> None:
    """One naming rule: what Terraform names each function is what packaging and an invoking function use."""
    names = _write(tmp_path, '[aws]\ntable_prefix = "bot2"\n')["function_names"]
    assert names == {f: deployed_name(f, "bot2") for f in (*FUNCTIONS, "push_receiver")}
    assert names["tick_ingest"] == "bot2-tick-ingest" and not [n for n in names.values() if "_" in n]


def test_a_workflow_with_its_stages_split_across_clouds_is_refused_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One workflow execution calls the five cycle stages on one cloud; Terraform would refuse the split in
    its plan, so the configuration refuses it first (manual_trade may sit on the other cloud)."""
    config = tmp_path / "coinswarm.toml"
    config.write_text('[deploy]\nchain = "workflow"\nplacement = { committee_vote = "gcp" }\n')
    assert coinswarm(["deploy", "tfvars", "--config", str(config), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "committee_vote = gcp" in err and 'chain = "invoke"' in err
    assert not (tmp_path / "x.json").exists()
    config.write_text('[deploy]\nchain = "workflow"\nplacement = { manual_trade = "gcp" }\n')
    assert _write(tmp_path, config.read_text())["placement"]["manual_trade"] == "gcp"
