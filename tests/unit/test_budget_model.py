"""The budget model's arithmetic against hand-computed cases, the traps, and the verdict on the default
(chained by asynchronous invocation: it fits every quota with 2x headroom; the queue chain does not)."""

from __future__ import annotations

from typing import Any

import pytest

from coinswarm.budget import project
from coinswarm.budget.model import traps
from coinswarm.budget.usage import Usage, billed_s, ghz_of, project_usage
from coinswarm.config.settings import Settings

ALL_GCP = dict.fromkeys(
    ["tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade"], "gcp"
)


def cfg(**changes: Any) -> Settings:
    data = Settings().model_dump()
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            data[section][name] = value
        else:
            data[section] = value
    return Settings.model_validate(data)


def line(settings: Settings, key: str) -> Any:
    return next(x for x in project(settings).lines if x.key == key)


# -- the default: 1-minute cycle, 3 symbols, mesh wiring, every function on AWS, chained by invocation ----------


def test_default_lambda_requests_and_compute() -> None:
    # cycles a month: 1440 a day x 30 days = 43,200
    # invocations a cycle: tick_ingest 1 + scoring, vote, placement x 3 symbols = 10 -> 432,000;
    # trade_logging only for a fill: 48 orders a day x 30 = 1,440; manual trade 10/day x 30 = 300
    # GB-s at 256 MB (0.25 GB): tick 43,200 x 1.5 s (500 ms x 3 symbols) = 16,200; scoring 129,600 x 0.2 = 6,480;
    #   vote 129,600 x 0.15 = 4,860; placement 129,600 x 0.3 = 9,720; logging 1,440 x 0.15 = 54; manual 75
    assert line(Settings(), "lambda_requests").used == pytest.approx(433_740)
    assert line(Settings(), "lambda_compute").used == pytest.approx(37_389)
    usage = project_usage(Settings())
    assert usage.invocations["trade_logging"] == 1_440 and usage.invocations["order_placement"] == 129_600
    assert usage.per_cycle["messages.placements"] == pytest.approx(48 / 1440)


def test_default_invocations_poll_nothing_sqs_is_only_the_dead_letter_destination() -> None:
    usage = project_usage(Settings())
    assert usage.sqs_queues == 0
    assert usage.month.get("sqs_requests", 0) == 0 and usage.per_cycle["sqs_idle_polls"] == 0
    assert any("failed invocation is retried twice" in note for note in usage.notes)
    assert not project_usage(cfg(deploy__chain="queues")).notes


def test_default_logs_dynamodb_and_cosmos() -> None:
    s = Settings()
    # 433,740 invocations x 1,200 B = 520,488,000 B ingested; kept 14 days: 520,488,000 / 30 x 14 = 242,894,400
    assert line(s, "cloudwatch_logs").used == pytest.approx(0.763_382_4)
    # the state table (10/10) and the idempotency table (2/2)
    assert (line(s, "dynamodb_rcu").used, line(s, "dynamodb_wcu").used) == (12, 12)
    # decisions kept 90 days: 3 x 1440 x 90 x 1,300 B = 505,440,000; ledger 48/day x 365 x 500 B x 2 = 17,520,000
    assert line(s, "cosmos_storage").used == pytest.approx(0.522_96)
    assert line(s, "cosmos_throughput").used == 400
    # a cycle's state reads: 7 per symbol x 3 + 7 per order x 48/1440 orders a cycle = 21.2333
    assert project_usage(s).per_cycle["state_reads"] == pytest.approx(21 + 7 / 30)
    assert line(s, "eventbridge_scheduler").used == 43_200


def test_the_default_configuration_fits_every_quota_with_2x_headroom() -> None:
    budget = project(Settings())
    assert Settings().deploy.chain == "invoke" and Settings().wiring == "mesh"
    assert budget.ok, [(x.quota, round(x.share, 3)) for x in budget.over] + [t.key for t in budget.traps]
    assert max(x.share for x in budget.lines) <= 0.5
    # the closest: the provisioned DynamoDB capacity (12 of 25), then Lambda requests
    assert sorted((round(x.share, 4), x.key) for x in budget.lines)[-3:] == [
        (0.4337, "lambda_requests"),
        (0.48, "dynamodb_rcu"),
        (0.48, "dynamodb_wcu"),
    ]


def test_the_outboxes_are_billed_on_dynamodb_in_mesh_wiring_and_only_placements_in_fused() -> None:
    # per symbol and cycle: candle 1 + agents' memory 3 + book 2 = 6 WCU, x 3 = 18, + an order's 6 x 1/30 = 18.2;
    # outboxes (a claim, 1 WCU, then its completion with the outputs, 1 WCU per KB started):
    #   ingest 1 + 1, scoring 1 + 2, vote 1 + 2, placement 1 + 1 = 10 per symbol: 30
    mesh = project_usage(Settings())
    assert mesh.per_cycle["dynamodb_wcu"] == pytest.approx(18.2 + 30)
    assert line(Settings(), "dynamodb_write_load").used == pytest.approx(48.2 / 60)
    fused = project_usage(cfg(wiring="fused"))
    assert fused.per_cycle["dynamodb_wcu"] == pytest.approx(18.2 + 3 * 2)  # placement's own outbox only
    # the secrets: manual trade, the exchange's key and secret, the Cosmos DB key; + the push secret when split
    assert mesh.month["ssm_parameters"] == 4
    assert project_usage(cfg(deploy__placement={"agent_scoring": "gcp"})).month["ssm_parameters"] == 5


def test_a_fourth_symbol_every_minute_is_over_the_lambda_requests_share() -> None:
    # 43,200 x (1 + 3 x 4) = 561,600 + 1,440 fills + 300 manual = 563,340: 56 %
    four = cfg(symbols=["BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD"])
    assert line(four, "lambda_requests").used == pytest.approx(563_340)
    assert [x.key for x in project(four).over] == ["lambda_requests"]


def test_invocations_at_a_5_minute_cadence() -> None:
    # 288 cycles a day x 30 = 8,640; x (1 + 3 x 3) = 86,400; fills: min(48, 288 x 3) = 48 a day -> 1,440; manual 300
    s = cfg(timeframe="5m")
    assert line(s, "lambda_requests").used == pytest.approx(88_140)
    assert project(s).ok


# -- the queue chain: SQS event sources ------------------------------------------------------------------------


def test_the_queue_chain_polls_sqs_even_when_idle_and_is_over() -> None:
    s = cfg(deploy__chain="queues")
    usage = project_usage(s)
    # 4 queues x 5 pollers x 86,400/20 polls a day x 30 days = 2,592,000 (idle or not)
    # messages: 3 hops x 3 symbols x 43,200 cycles = 388,800, placements with a fill 1,440: 390,240,
    #   each sent, received, deleted: 1,170,720
    assert usage.sqs_queues == 4
    assert usage.month["sqs_requests"] == pytest.approx(3_762_720)
    assert line(s, "lambda_requests").used == pytest.approx(433_740)  # the same invocations
    budget = project(s)
    assert {x.key for x in budget.over} == {"sqs_requests"}
    assert not budget.ok and not budget.traps


def test_the_default_with_fused_wiring_fits_every_quota_with_2x_headroom() -> None:
    budget = project(cfg(wiring="fused"))
    # one invocation a cycle: 43,200 + 300 manual; it runs 3 x (500+200+150+300) ms + logging for 1/30 order
    assert line(cfg(wiring="fused"), "lambda_requests").used == pytest.approx(43_500)
    assert line(cfg(wiring="fused"), "lambda_compute").used == pytest.approx(43_200 * 3.455 * 0.25 + 75)
    assert line(cfg(wiring="fused"), "sqs_requests").used == 0
    assert budget.ok, [(x.quota, x.share) for x in budget.over]
    assert max(x.share for x in budget.lines) <= 0.5


# -- everything on Google Cloud --------------------------------------------------------------------------------


def test_all_on_gcp_firestore_pubsub_and_functions() -> None:
    s = cfg(deploy__placement=ALL_GCP)
    usage = project_usage(s)
    # Firestore reads a day: 21.2333 a cycle + one read before each document write (3 x 3 + 4 x 1/30) + one read
    # in each outbox transaction (4 stages x 2 x 3 = 24) = 54.3667 x 1440 = 78,288 (157 % of 50,000)
    assert usage.month["firestore_reads"] == pytest.approx(78_288)
    # writes: 4 per symbol x 3 + 4 x 1/30 + the outboxes' 24 = 36.1333 a cycle x 1440 = 52,032 a day: 260 %
    assert usage.month["firestore_writes"] == pytest.approx(52_032)
    # Pub/Sub: 4 hops x 3 x 43,200 x 2 (publish + push) x 1,000 B (the minimum; 1,150 B for the decisions, which
    # carry their candle) + 1,440 TradesLogged x 1,000 B
    assert usage.month["pubsub"] == pytest.approx((777_600_000 + 298_080_000 + 1_440_000) / 2**30)
    # GB-s: 100 ms steps: 150 ms bills 200 ms. 16,200 + 6,480 + 6,480 + 9,720 + 6,480 + 75 = 45,435; GHz-s x 0.4 / 0.25
    assert usage.month["gcf_gb_s"] == pytest.approx(45_435)
    assert usage.month["gcf_ghz_s"] == pytest.approx(45_435 / 0.25 * 0.4)
    assert usage.month["cloud_scheduler_jobs"] == 1
    assert usage.month.get("lambda_requests", 0) == 0 and usage.month.get("sqs_requests", 0) == 0
    assert {"firestore_writes", "firestore_reads"} <= {x.key for x in project(s).over}
    # fused wiring on Google Cloud keeps only placement's outbox: 12.1333 + 2 x 3 = 18.1333 writes a cycle
    fused = project_usage(cfg(deploy__placement=ALL_GCP, wiring="fused"))
    assert fused.month["firestore_writes"] == pytest.approx(18.1333333 * 1440)


@pytest.mark.parametrize("chain", ["invoke", "queues"])
def test_cross_cloud_hops_leave_gcp_as_egress_and_use_no_queue(chain: str) -> None:
    # scoring on GCP, the rest on AWS: candles arrive by HTTP push, scores leave GCP by HTTP push:
    # 3 x 43,200 x (900 B + 1,000 B overhead) = 246,240,000 B; and its agents' memory lives in DynamoDB:
    # (1 read + 1 write) x 3 x 43,200 x (1,000 B + 2,300/2 B) = 557,280,000 B
    s = cfg(deploy__placement={"agent_scoring": "gcp"}, deploy__chain=chain)
    usage = project_usage(s)
    # queues: decisions and placements stay on SQS; invoke: the AWS hops are invocations, nothing polls
    assert usage.sqs_queues == (2 if chain == "queues" else 0)
    assert usage.month["gcf_egress"] == pytest.approx(0.246_24 + 0.557_28)
    assert usage.month["gcf_invocations"] == pytest.approx(129_600)
    # AWS: tick 43,200 + vote and placement 2 x 129,600 + fills 1,440 + manual 300
    assert usage.month["lambda_requests"] == pytest.approx(304_140)


def test_order_placement_on_gcp_hands_every_placement_on_to_trade_logging_on_aws() -> None:
    # Cloud Functions publish every PlacementDone: trade_logging on AWS is invoked 3 x 43,200 times
    usage = project_usage(cfg(deploy__placement={"order_placement": "gcp"}))
    assert usage.invocations["trade_logging"] == pytest.approx(129_600)
    assert usage.per_cycle["messages.placements"] == 3


def test_cloud_functions_cpu_and_billing_steps() -> None:
    assert [ghz_of(mb) for mb in (128, 256, 300, 1024, 8192, 32768)] == [0.2, 0.4, 0.8, 1.4, 4.8, 4.8]
    assert billed_s(150, "gcp") == 0.2 and billed_s(150, "aws") == 0.15 and billed_s(100, "gcp") == 0.1


# -- traps ---------------------------------------------------------------------------------------------------


def test_step_functions_standard_every_minute_is_a_trap_and_daily_is_not() -> None:
    # one execution a cycle: 2 + 3 x 3 symbols + 2 per order (48/1440 a cycle) = 11.0667 transitions x 43,200
    minute = project(cfg(deploy__chain="workflow"))
    assert next(x for x in minute.lines if x.key == "step_functions").used == pytest.approx(478_080)
    assert [t.key for t in minute.traps] == ["step_functions_standard"]
    # daily: 30 executions of 2 + 9 + 2 x 3 orders (at most one per symbol a cycle) = 17 -> 510 (13 %)
    daily = project(cfg(deploy__chain="workflow", timeframe="1d"))
    assert next(x for x in daily.lines if x.key == "step_functions").used == pytest.approx(510)
    assert not daily.traps


def test_step_functions_express_has_no_free_tier() -> None:
    keys = [t.key for t in project(cfg(deploy__chain="workflow", deploy__step_functions_type="express")).traps]
    assert keys == ["step_functions_express"]


def test_dynamodb_on_demand_is_a_trap() -> None:
    budget = project(cfg(deploy__dynamodb_billing="on_demand"))
    assert "dynamodb_on_demand" in [t.key for t in budget.traps] and not budget.ok


def test_more_than_ten_custom_metrics_is_a_trap() -> None:
    assert "cloudwatch_metrics" in [t.key for t in project(cfg(wiring="fused", deploy__custom_metrics=11)).traps]
    ten = project(cfg(wiring="fused", deploy__custom_metrics=10))
    assert not ten.traps and [x.key for x in ten.over] == ["cloudwatch_metrics"]  # free, but 100 % of the quota
    assert project(cfg(wiring="fused", deploy__custom_metrics=5)).ok


def test_an_always_warm_instance_is_a_trap_and_its_idle_time_counts() -> None:
    budget = project(cfg(wiring="fused", deploy__min_instances={"tick_ingest": 1}))
    assert [t.key for t in budget.traps] == ["always_warm"]
    # 30 days x 86,400 s x 0.25 GB = 648,000 GB-s on top of the fused 37,389
    assert next(x for x in budget.lines if x.key == "lambda_compute").used == pytest.approx(648_000 + 37_389)


def test_more_than_three_cloud_scheduler_jobs_is_a_trap() -> None:
    usage = Usage(month={"cloud_scheduler_jobs": 4.0})
    assert [t.key for t in traps(Settings(), usage)] == ["cloud_scheduler_jobs"]
    assert traps(Settings(), Usage(month={"cloud_scheduler_jobs": 3.0})) == []


def test_the_share_limit_comes_from_the_configuration_or_the_caller() -> None:
    assert project(cfg(wiring="fused", deploy__max_share=0.3)).over  # DynamoDB capacity 48 %, Cosmos 40 %
    assert project(cfg(wiring="fused"), max_share=0.3).max_share == 0.3
    assert project(Settings(), max_share=1.0).over == tuple(x for x in project(Settings()).lines if x.share > 1.0)


def test_every_quota_line_carries_its_source_and_date() -> None:
    for x in project(Settings()).lines:
        assert x.source and x.checked == "2026-11-22" and x.limit > 0


@pytest.mark.parametrize(
    ("deploy", "says"),
    [
        ({"durations_ms": {"tick_ingst": 100}}, "no such function: tick_ingst"),
        ({"min_instances": {"vote": 1}}, "no such function: vote"),
        ({"durations_ms": {"tick_ingest": 0}}, "greater than or equal to 1"),
        ({"max_share": 0}, "greater than 0"),
        ({"cosmos_throughput_ru_s": 100}, "greater than or equal to 400"),
        ({"dynamodb_billing": "pay_per_request"}, "'provisioned' or 'on_demand'"),
    ],
)
def test_bad_budget_fields_are_refused_naming_the_field(deploy: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Settings.model_validate({"deploy": deploy})


def test_naming_one_duration_keeps_the_other_defaults() -> None:
    durations = cfg(deploy__durations_ms={"tick_ingest": 900}).deploy.durations_ms
    assert durations["tick_ingest"] == 900 and durations["agent_scoring"] == 200
