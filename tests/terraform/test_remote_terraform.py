"""The remote control's Terraform (terraform/modules/aws/telegram.tf, terraform/modules/gcp/metrics.tf), read
from the parsed HCL: created only when enabled, its secrets sensitive SSM SecureStrings that only it reads and
never in its environment, the alarms within half the ten free ones and wired to the function that tells the
owner, and Google's log-based metrics naming exactly what the metric lines write."""

from __future__ import annotations

from coinswarm.budget import profile
from coinswarm.notify.metrics import FIELDS, METRICS
from servers.terraform import TERRAFORM_DIR, LazyModule

AWS = LazyModule(TERRAFORM_DIR / "modules" / "aws")
GCP = LazyModule(TERRAFORM_DIR / "modules" / "gcp")
FREE_ALARMS = 10


def test_everything_is_created_only_when_enabled() -> None:
    for kind in (
        "aws_lambda_function",
        "aws_iam_role",
        "aws_cloudwatch_log_group",
        "aws_sns_topic",
        "aws_lambda_function_url",
    ):
        assert AWS.resources[kind]["telegram_webhook" if kind != "aws_sns_topic" else "alarms"]["count"].startswith(
            "${local.remote_on"
        ), kind
    assert AWS.variables["remote_control"]["default"] == {}


def test_its_secrets_are_sensitive_secure_strings_read_by_it_alone() -> None:
    variable = AWS.variables["remote_secrets"]
    assert variable["sensitive"] is True and variable.get("default") == {}
    parameter = AWS.resources["aws_ssm_parameter"]["remote"]
    assert parameter["type"] == "SecureString" and parameter["for_each"] == "${local.remote_secrets}"
    specs = AWS.locals["remote_secret_specs"]
    assert {s["setting"] for s in specs.values()} == {
        "notify.telegram_bot_token",
        "remote.telegram_webhook_secret",
        "remote.status_token",
    }
    environment = str(AWS.resources["aws_lambda_function"]["telegram_webhook"]["environment"])
    assert "var.remote_secrets" not in environment and "SECRET_SETTINGS" in environment


def test_the_alarms_are_at_most_half_the_free_ones_and_tell_the_owner() -> None:
    heartbeat = AWS.resources["aws_cloudwatch_metric_alarm"]["heartbeat"]
    assert heartbeat["metric_name"] == "Cycles" and heartbeat["namespace"] == "Coinswarm" and "Cycles" in METRICS
    assert (
        heartbeat["treat_missing_data"] == "breaching"
        and heartbeat["evaluation_periods"] == "${var.remote_control.late_periods}"
    )
    dead = AWS.resources["aws_cloudwatch_metric_alarm"]["dead_letter"]
    assert (
        dead["for_each"] == "${local.remote_dlq_alarms}" and dead["metric_name"] == "ApproximateNumberOfMessagesVisible"
    )
    hops = 4  # at most one dead-letter queue per hop inside AWS
    assert profile.HEARTBEAT_ALARMS + hops <= FREE_ALARMS / 2
    for alarm in (heartbeat, dead):
        assert alarm["alarm_actions"] == ["${aws_sns_topic.alarms[0].arn}"]
    subscription = AWS.resources["aws_sns_topic_subscription"]["alarms"]
    assert subscription["protocol"] == "lambda" and "telegram_webhook" in subscription["endpoint"]


def test_it_is_named_by_function_names() -> None:
    assert AWS.locals["remote_name"].startswith('${lookup(var.function_names, "telegram_webhook"')
    assert (
        AWS.resources["aws_lambda_function"]["telegram_webhook"]["handler"] == "functions.telegram_webhook.aws.handler"
    )


def test_log_based_metrics_are_the_metric_lines_names() -> None:
    assert set(GCP.locals["log_metrics"]) == set(METRICS) | set(FIELDS)
    assert len(GCP.locals["log_metrics"]) == profile.LOG_METRICS_GCP
    metric = GCP.resources["google_logging_metric"]["coinswarm"]
    assert "jsonPayload.coinswarm_metric=true" in metric["filter"]
