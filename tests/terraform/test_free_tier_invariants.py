"""The free-tier invariants, read from the parsed HCL (python-hcl2), and the Terraform's mirror of the
code's own resource specs (queues, tables, topics, containers): a change on one side fails here."""

from __future__ import annotations

import re

from coinswarm.adapters.cosmos_history import CONTAINERS
from coinswarm.adapters.dynamodb_store import FREE_TIER_RCU, FREE_TIER_WCU, TABLES
from coinswarm.adapters.pubsub_bus import ACK_DEADLINE_S, MAX_DELIVERY_ATTEMPTS, RETRY_BACKOFF_S, TOPICS
from coinswarm.adapters.sqs_bus import QUEUES
from coinswarm.config.deploy import FUNCTIONS
from functions.order_placement.aws import IDEMPOTENCY_TABLE
from servers.terraform import TERRAFORM_DIR, all_modules, load_module

AWS = load_module(TERRAFORM_DIR / "modules" / "aws")
GCP = load_module(TERRAFORM_DIR / "modules" / "gcp")
AZURE = load_module(TERRAFORM_DIR / "modules" / "azure")
COSMOS_FREE_RU_S = 1000
FREE_SCHEDULER_JOBS = 3


def test_cosmos_account_has_the_free_tier_on() -> None:
    accounts = AZURE.resources["azurerm_cosmosdb_account"]
    assert accounts, "no Cosmos DB account"
    for name, account in accounts.items():
        assert account.get("free_tier_enabled") is True, f"Cosmos DB account {name}: free_tier_enabled is not true"


def test_cosmos_throughput_is_shared_and_at_most_1000_ru_s() -> None:
    database = AZURE.resources["azurerm_cosmosdb_sql_database"]["this"]
    assert database["throughput"] == "${var.throughput}"
    variable = AZURE.variables["throughput"]
    assert variable["default"] <= COSMOS_FREE_RU_S
    assert "var.throughput <= 1000" in variable["validation"][0]["condition"], "nothing refuses more than 1000 RU/s"
    for name, container in AZURE.resources["azurerm_cosmosdb_sql_container"].items():
        assert "throughput" not in container and "autoscale_settings" not in container, (
            f"container {name} has throughput of its own: it would be billed on top of the database's"
        )


def test_dynamodb_is_provisioned_within_25_rcu_and_25_wcu_in_total() -> None:
    for name, table in AWS.resources["aws_dynamodb_table"].items():
        assert table["billing_mode"] == "PROVISIONED", f"table {name}: on-demand is never free"
        assert table["read_capacity"] == "${each.value.rcu}" and table["write_capacity"] == "${each.value.wcu}"
    specs = AWS.locals["table_specs"]
    assert sum(t["rcu"] for t in specs.values()) <= FREE_TIER_RCU
    assert sum(t["wcu"] for t in specs.values()) <= FREE_TIER_WCU


def test_tables_are_the_ones_the_code_creates() -> None:
    specs = AWS.locals["table_specs"]
    for code in (*TABLES, IDEMPOTENCY_TABLE):
        hcl = specs[code.suffix]
        assert (hcl["hash_key"], hcl["hash_type"]) == code.partition_key, code.suffix
        assert (hcl["range_key"], hcl["range_type"]) == (code.sort_key or (None, None)), code.suffix
        assert (hcl["rcu"], hcl["wcu"]) == (code.read_capacity, code.write_capacity), code.suffix
        assert hcl["ttl"] == code.ttl_attribute, code.suffix
    assert set(specs) == {t.suffix for t in (*TABLES, IDEMPOTENCY_TABLE)}


def test_queues_are_the_ones_the_code_describes() -> None:
    spec = AWS.locals["queue_spec"]
    catalogue = AWS.locals["catalogue"]
    for queue in QUEUES:
        assert catalogue[queue.consumer]["consumes"] == queue.topic
        assert spec == {
            "batch_size": queue.batch_size,
            "visibility_timeout_s": queue.visibility_timeout_s,
            "retention_s": queue.retention_s,
            "max_receive_count": queue.max_receive_count,
            "dlq_retention_s": queue.dlq_retention_s,
        }
    mapping = AWS.resources["aws_lambda_event_source_mapping"]["stage"]
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]


def test_pubsub_hops_are_the_ones_the_code_describes() -> None:
    catalogue = GCP.locals["catalogue"]
    for route in TOPICS:
        if route.consumer is not None:
            assert catalogue[route.consumer]["consumes"] == route.topic
    assert GCP.locals["max_delivery_attempts"] == MAX_DELIVERY_ATTEMPTS
    assert GCP.locals["ack_deadline_s"] == ACK_DEADLINE_S
    assert GCP.locals["retry_backoff"] == [f"{s}s" for s in RETRY_BACKOFF_S]
    push = GCP.resources["google_pubsub_subscription"]["push"]
    assert push["dead_letter_policy"][0]["max_delivery_attempts"] == "${local.max_delivery_attempts}"


def test_cosmos_containers_are_the_ones_the_code_creates() -> None:
    hcl = AZURE.locals["containers"]
    assert set(hcl) == {c.name for c in CONTAINERS}
    for code in CONTAINERS:
        mine = hcl[code.name]
        assert mine["partition_key"] == code.partition_key, code.name
        assert mine["unique"] == list(code.unique_keys), code.name
        indexed = [p["path"].removesuffix("/?") for p in code.indexing_policy["includedPaths"]]
        assert mine["indexed"] == indexed, code.name
        assert mine["newest_first"] == ("compositeIndexes" in code.indexing_policy), code.name
        ttl = mine["ttl"]
        expected = code.default_ttl
        assert (ttl is None) if expected is None else (ttl == "${local.audit_ttl_s}" and expected == 90 * 86400), (
            code.name
        )
    assert AZURE.locals["audit_ttl_s"] == "${90 * 86400}"


def test_at_most_three_cloud_scheduler_jobs() -> None:
    jobs = 0
    for module in all_modules():
        for name, job in load_module(module).resources.get("google_cloud_scheduler_job", {}).items():
            assert "for_each" not in job, f"scheduler job {name} is made per item: count it"
            count = str(job.get("count", "1"))
            assert re.fullmatch(r"1|\$\{.*\? 1 : 0\}", count), f"scheduler job {name}: count {count} may exceed 1"
            jobs += 1
    assert 1 <= jobs <= FREE_SCHEDULER_JOBS


def test_no_always_warm_instance() -> None:
    for module in all_modules():
        parsed = load_module(module)
        assert "aws_lambda_provisioned_concurrency_config" not in parsed.resources, f"{module}: provisioned concurrency"
        for name, function in parsed.resources.get("google_cloudfunctions2_function", {}).items():
            assert function["service_config"][0]["min_instance_count"] == 0, f"{module}: {name} keeps an instance warm"
        for name, service in parsed.resources.get("google_cloud_run_v2_service", {}).items():
            scaling = service.get("template", [{}])[0].get("scaling", [{}])[0]
            assert scaling.get("min_instance_count", 0) == 0, f"{module}: {name} keeps an instance warm"


def test_every_log_group_has_a_retention() -> None:
    groups = AWS.resources["aws_cloudwatch_log_group"]
    assert groups
    for name, group in groups.items():
        assert group.get("retention_in_days") == "${var.log_retention_days}", f"log group {name} keeps logs forever"
    # and every function logs into one of them: /aws/lambda/<function name>
    function = AWS.resources["aws_lambda_function"]["this"]
    assert function["function_name"] == "${var.name_prefix}-${each.key}"
    assert groups["function"]["name"] == "/aws/lambda/${var.name_prefix}-${each.key}"


def test_the_catalogues_name_every_function() -> None:
    assert set(AWS.locals["catalogue"]) == set(FUNCTIONS)
    assert set(GCP.locals["catalogue"]) == set(FUNCTIONS)
