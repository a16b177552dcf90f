"""The deployment section: every function placed on a cloud, unnamed ones on AWS, bad names refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from coinswarm.config.deploy import FUNCTIONS
from coinswarm.config.settings import Settings


def test_by_default_every_function_runs_on_aws_chained_by_asynchronous_invocation() -> None:
    deploy = Settings().deploy
    assert deploy.placement == dict.fromkeys(FUNCTIONS, "aws")
    assert deploy.chain == "invoke"


def test_naming_one_function_moves_only_that_one() -> None:
    placement = Settings.model_validate({"deploy": {"placement": {"trade_logging": "gcp"}}}).deploy.placement
    assert placement["trade_logging"] == "gcp"
    assert {f: c for f, c in placement.items() if f != "trade_logging"} == dict.fromkeys(
        [f for f in FUNCTIONS if f != "trade_logging"], "aws"
    )


@pytest.mark.parametrize(
    ("deploy", "says"),
    [
        ({"placement": {"order_placment": "aws"}}, "no such function: order_placment"),
        ({"placement": {"tick_ingest": "azure"}}, "'aws' or 'gcp'"),
        ({"chain": "cron"}, "'invoke', 'queues' or 'workflow'"),
        ({"memory_mb": 64}, "greater than or equal to 128"),
    ],
)
def test_a_bad_deployment_is_refused_naming_the_field(deploy: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings.model_validate({"deploy": deploy})
