"""A Lambda container reads its secret settings from SSM at cold start (Terraform puts none in its
environment): the Cosmos DB key and the exchange's keys reach the container's configuration, redacted."""

from __future__ import annotations

import json

import boto3
import pytest

from coinswarm.wiring.cloud import reset_container_app
from functions.aws_common import AwsFunction

COSMOS_KEY = "cosmos-key-from-ssm-9f8e7d6c5b4a"
VENUE_SECRET = "venue-secret-from-ssm-1a2b3c4d"


def test_a_container_takes_its_secret_settings_from_ssm(
    moto_server: str, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssm = boto3.client("ssm", endpoint_url=moto_server, region_name="us-east-1")
    ssm.put_parameter(Name="/cs1/cosmos-key", Value=COSMOS_KEY, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name="/cs1/venue-api-secret", Value=VENUE_SECRET, Type="SecureString", Overwrite=True)
    monkeypatch.setenv("COINSWARM_AWS__ENDPOINT_URL", json.dumps(moto_server))
    monkeypatch.setenv("COINSWARM_AWS__REGION", json.dumps("us-east-1"))
    monkeypatch.setenv("COINSWARM_STORE__BACKEND", json.dumps("memory"))
    monkeypatch.setenv(
        "SECRET_SETTINGS",
        json.dumps({"azure.cosmos_key": "/cs1/cosmos-key", "venues.0.api_secret": "/cs1/venue-api-secret"}),
    )
    reset_container_app()
    try:
        settings = AwsFunction("trade_logging", "sqs").app().settings
        assert settings.azure.cosmos_key is not None
        assert settings.azure.cosmos_key.get_secret_value() == COSMOS_KEY
        assert settings.venues[0].api_secret is not None
        assert settings.venues[0].api_secret.get_secret_value() == VENUE_SECRET
        assert COSMOS_KEY not in repr(settings) and VENUE_SECRET not in repr(settings)
    finally:
        reset_container_app()
