"""functions/secret_settings.py: the secret settings a function reads at cold start from where Terraform
keeps them (SSM, Secret Manager), here from an SSM on the moto server; and its refusals, which name the
setting and the place but never a value."""

from __future__ import annotations

import json
import uuid

import pytest

from coinswarm.config import load_settings
from functions.secret_settings import SecretSettingsError, aws_environment, ssm_fetch, with_secret_settings
from servers.moto import aws_client

COSMOS = {"COINSWARM_STORE__HISTORY": "cosmos", "COINSWARM_AZURE__COSMOS_ENDPOINT": "https://x.documents.azure.com"}


def _put(endpoint: str, values: dict[str, str]) -> tuple[object, dict[str, str]]:
    ssm = aws_client("ssm", endpoint)
    prefix = f"/t{uuid.uuid4().hex[:8]}"
    paths = {}
    for name, value in values.items():
        paths[name] = f"{prefix}/{name}"
        ssm.put_parameter(Name=paths[name], Value=value, Type="SecureString")
    return ssm, paths


def test_cosmos_key_and_venue_keys_come_from_ssm_into_the_settings(moto_server: str) -> None:
    ssm, paths = _put(moto_server, {"cosmos-key": "a2V5PT0=", "api-key": "123", "api-secret": "s3cr3t"})
    wanted = {"azure.cosmos_key": paths["cosmos-key"], "venues.0.api_key": paths["api-key"]}
    wanted["venues.0.api_secret"] = paths["api-secret"]
    env = {**COSMOS, "SECRET_SETTINGS": json.dumps(wanted)}
    settings = load_settings(env=with_secret_settings(env, ssm_fetch(ssm)))
    assert settings.azure.cosmos_key is not None and settings.azure.cosmos_key.get_secret_value() == "a2V5PT0="
    venue = settings.venues[0]
    assert venue.name == "coinbase", "the default venue list, keys added"
    assert venue.api_key is not None and venue.api_key.get_secret_value() == "123", "a digit-only key stays a string"
    assert venue.api_secret is not None and venue.api_secret.get_secret_value() == "s3cr3t"


def test_the_key_goes_into_the_configured_venue_list(moto_server: str) -> None:
    ssm, paths = _put(moto_server, {"k": "binance-key"})
    venues = json.dumps([{"name": "binance", "fee_bps": 10.0}])
    env = {"COINSWARM_VENUES": venues, "SECRET_SETTINGS": json.dumps({"venues.0.api_key": paths["k"]})}
    out = with_secret_settings(env, ssm_fetch(ssm))
    assert json.loads(out["COINSWARM_VENUES"]) == [{"name": "binance", "fee_bps": 10.0, "api_key": "binance-key"}]


def test_without_secret_settings_the_environment_is_unchanged() -> None:
    def never(where: str) -> str:
        raise AssertionError(f"fetched {where}")

    assert with_secret_settings(COSMOS, never) == COSMOS


def test_a_missing_parameter_names_the_setting_and_the_place_not_the_sdk_answer(moto_server: str) -> None:
    ssm = aws_client("ssm", moto_server)
    env = {"SECRET_SETTINGS": json.dumps({"azure.cosmos_key": "/nowhere/cosmos-key"})}
    with pytest.raises(SecretSettingsError, match=r"azure\.cosmos_key from /nowhere/cosmos-key \(ParameterNotFound\)"):
        with_secret_settings(env, ssm_fetch(ssm))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "must be a JSON object"),
        ('["azure.cosmos_key"]', "must be a JSON object"),
        ('{"cosmos_key": "/p/k"}', "is not a setting path"),
        ('{"venues.3.api_key": "/p/k"}', "names venue 3, but the configuration has 1 venue"),
    ],
)
def test_a_malformed_secret_settings_is_refused_with_what_to_give(raw: str, message: str) -> None:
    with pytest.raises(SecretSettingsError, match=message) as caught:
        with_secret_settings({"SECRET_SETTINGS": raw}, lambda where: "the-value")
    assert "the-value" not in str(caught.value)


def test_aws_environment_reads_ssm_where_the_settings_say(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, paths = _put(moto_server, {"cosmos-key": "Y29zbW9z"})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    env = {
        **COSMOS,
        "COINSWARM_AWS__REGION": '"us-east-1"',  # as `coinswarm deploy tfvars` would write it: JSON
        "COINSWARM_AWS__ENDPOINT_URL": moto_server,
        "SECRET_SETTINGS": json.dumps({"azure.cosmos_key": paths["cosmos-key"]}),
    }
    out = aws_environment(env)
    assert json.loads(out["COINSWARM_AZURE__COSMOS_KEY"]) == "Y29zbW9z"
    assert aws_environment(COSMOS) == COSMOS, "no SECRET_SETTINGS: nothing read"
