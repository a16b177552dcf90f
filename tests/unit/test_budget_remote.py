"""`coinswarm budget` with the owner's remote control: the telegram_webhook function (deployed only when
configured) beside manual_trade, its secrets, the notifications' claims, the metric lines' CloudWatch
metrics and the heartbeat alarm, all within half of every free quota."""

from __future__ import annotations

from typing import Any

import pytest

from coinswarm.budget import profile as p
from coinswarm.budget.model import project
from coinswarm.config.settings import Settings
from coinswarm.notify.metrics import METRICS

REMOTE = {"telegram_webhook_secret": "s3cret_token", "status_token": "status-token-0123456789"}
NOTIFY = {"telegram_bot_token": "1:abc", "telegram_chat_id": "1", "discord_webhook_url": "https://d.example/x"}


def cfg(**changes: Any) -> Settings:
    return Settings.model_validate(changes)


def used(settings: Settings, key: str) -> float:
    return next(line.used for line in project(settings).lines if line.key == key)


def test_the_remote_control_fits_every_quota_with_2x_headroom() -> None:
    budget = project(cfg(remote=REMOTE, notify=NOTIFY))
    assert budget.ok, [(x.key, round(x.share, 3)) for x in budget.over] + [t.key for t in budget.traps]
    assert budget.usage.invocations["telegram_webhook"] == p.REMOTE_CALLS_PER_DAY * 30


def test_the_function_counts_only_when_configured() -> None:
    plain, remote = cfg(), cfg(remote=REMOTE)
    assert used(remote, "lambda_requests") - used(plain, "lambda_requests") == p.REMOTE_CALLS_PER_DAY * 30
    assert used(remote, "ssm_parameters") - used(plain, "ssm_parameters") == 3
    assert "telegram_webhook" not in project(plain).usage.invocations


def test_on_gcp_it_is_cloud_functions_and_secret_manager() -> None:
    gcp = {
        f: "gcp"
        for f in ("tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade")
    }
    settings = cfg(remote=REMOTE, deploy={"placement": gcp})
    base = cfg(deploy={"placement": gcp})
    assert used(settings, "gcf_invocations") - used(base, "gcf_invocations") == p.REMOTE_CALLS_PER_DAY * 30
    assert used(settings, "secret_versions") - used(base, "secret_versions") == 3
    assert used(settings, "monitoring_ingest") > 0 and used(settings, "cloudwatch_metrics") == 0


def test_five_cloudwatch_metrics_and_the_alarms() -> None:
    assert len(METRICS) == 5 and used(cfg(), "cloudwatch_metrics") == 5
    assert used(cfg(), "cloudwatch_alarms") == 0  # no remote control: no alarm
    # the heartbeat and one per dead-letter queue (four hops inside AWS): half the ten free alarms
    assert used(cfg(remote=REMOTE), "cloudwatch_alarms") == p.HEARTBEAT_ALARMS + 4
    assert used(cfg(remote=REMOTE, deploy={"chain": "workflow"}), "cloudwatch_alarms") == p.HEARTBEAT_ALARMS + 1


@pytest.mark.parametrize("channels", [0, 1, 2])
def test_each_channel_adds_its_claims_per_event(channels: int) -> None:
    notify = dict(
        list({"discord_webhook_url": NOTIFY["discord_webhook_url"], "webhook_url": "https://h.example/"}.items())[
            :channels
        ]
    )
    budget = project(cfg(notify=notify))
    orders_cycle = Settings().risk.max_orders_per_day / 1440  # a cycle a minute
    expected = orders_cycle * p.NOTIFY_EVENTS_PER_ORDER * channels * p.NOTIFY_WRITES_PER_EVENT
    assert budget.usage.per_cycle["notify_writes"] == pytest.approx(expected)
