"""`terraform plan` with the remote control on (the stand-in providers, as tests/terraform/test_terraform_plans.py):
telegram_webhook lands beside manual_trade, its three secrets in SSM or Secret Manager, and on AWS the alarms
(the heartbeat and one per dead-letter queue, five of the ten free at most) wired to it through SNS."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from plan_layouts import Layout, Plan, write_packages, write_variables
from test_terraform_plans import _plan

from coinswarm.config.deploy import deployed_name
from servers.terraform import Terraform, copy_tree

ON_AWS = Layout("invoke", "aws", "1m")
ON_GCP = Layout("invoke", "aws", "1h", {"manual_trade": "gcp"})
REMOTE = {
    "remote_control": {"enabled": True, "late_periods": 3},
    "remote_secrets": {
        "telegram_bot_token": "1:abc",
        "telegram_webhook_secret": "hook_secret",
        "status_token": "st-0123456789abcdef",
    },
}


@pytest.fixture(scope="module")
def plans(standin_terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Plan]]:
    base = tmp_path_factory.mktemp("remote-plans")
    root = copy_tree(base)
    standin_terraform.run(root, "init", "-backend=false", "-input=false")
    packages = write_packages(base / "dist")
    made: dict[str, Plan] = {}
    for layout in (ON_AWS, ON_GCP):
        files = write_variables(layout, base / layout.id, packages)
        remote = base / layout.id / "remote.tfvars.json"
        remote.write_text(json.dumps(REMOTE))
        made[layout.id] = _plan(standin_terraform, root, layout, [*files, remote])
    yield made


def test_on_aws_the_function_its_secrets_and_the_alarms(plans: dict[str, Plan]) -> None:
    plan = plans[ON_AWS.id]
    name = deployed_name("telegram_webhook", "plan")
    assert name in plan.names("aws_lambda_function", "function_name")
    (function,) = [r for r in plan.of("aws_lambda_function") if r.values["function_name"] == name]
    assert function.values["handler"] == "functions.telegram_webhook.aws.handler"
    assert "1:abc" not in json.dumps(function.values) and "SECRET_SETTINGS" in json.dumps(function.values)
    assert plan.names("aws_ssm_parameter") >= {
        "/plan/telegram-bot-token",
        "/plan/telegram-webhook-secret",
        "/plan/status-token",
    }
    alarms = plan.of("aws_cloudwatch_metric_alarm")
    assert 1 + 1 <= len(alarms) <= 5
    assert {a.values["metric_name"] for a in alarms} == {"Cycles", "ApproximateNumberOfMessagesVisible"}
    assert len(plan.of("aws_sns_topic_subscription")) == 1 and len(plan.of("aws_lambda_function_url")) >= 2
    assert not plan.of("google_cloudfunctions2_function") or name not in plan.names("google_cloudfunctions2_function")


def test_beside_manual_trade_on_google_cloud(plans: dict[str, Plan]) -> None:
    plan = plans[ON_GCP.id]
    name = deployed_name("telegram_webhook", "plan")
    assert name in plan.names("google_cloudfunctions2_function")
    assert name not in plan.names("aws_lambda_function", "function_name")
    assert plan.names("google_secret_manager_secret", "secret_id") >= {
        "telegram-bot-token",
        "telegram-webhook-secret",
        "status-token",
    }
    assert not plan.of("aws_cloudwatch_metric_alarm")  # CloudWatch's alarms go with the function on AWS
    assert len(plan.of("google_logging_metric")) == 8
