"""The free-tier invariants, read from the parsed HCL (python-hcl2), and the Terraform's mirror of the
code's own resource specs (queues, tables, topics, containers): a change on one side fails here."""

from __future__ import annotations

import re

import pytest

from coinswarm.adapters.cosmos_history import CONTAINERS
from coinswarm.adapters.dynamodb_store import FREE_TIER_RCU, FREE_TIER_WCU, TABLES
from coinswarm.adapters.pubsub_bus import ACK_DEADLINE_S, MAX_DELIVERY_ATTEMPTS, RETRY_BACKOFF_S, TOPICS
from coinswarm.adapters.sqs_bus import QUEUES
from coinswarm.config.deploy import FUNCTIONS
from functions.order_placement.aws import IDEMPOTENCY_TABLE
from servers.terraform import TERRAFORM_DIR, LazyModule, all_modules, load_module
from templatefile import WORKFLOWS, placeholders

AWS = LazyModule(TERRAFORM_DIR / "modules" / "aws")
GCP = LazyModule(TERRAFORM_DIR / "modules" / "gcp")
AZURE = LazyModule(TERRAFORM_DIR / "modules" / "azure")
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
    assert function["function_name"] == "${var.function_names[each.key]}"
    assert groups["function"]["name"] == "/aws/lambda/${var.function_names[each.key]}"


def test_the_catalogues_name_every_function() -> None:
    assert set(AWS.locals["catalogue"]) == set(FUNCTIONS)
    assert set(GCP.locals["catalogue"]) == set(FUNCTIONS)


# -- the chains: nothing polls unless the configuration asks for queues -----------------------------------


def test_event_source_mappings_and_stage_queues_exist_only_under_chain_queues() -> None:
    """An SQS event source polls even when idle (about 170,000 requests a month per queue): under
    chain "invoke" or "workflow" there is none."""
    mapping = AWS.resources["aws_lambda_event_source_mapping"]["stage"]
    assert mapping["for_each"] == "${local.queues}"
    assert AWS.resources["aws_sqs_queue"]["stage"]["for_each"] == "${local.queues}"
    queues = AWS.locals["queues"]
    assert queues.startswith('${var.chain == "queues" ? ') and queues.endswith(" : {}}"), queues
    assert len(AWS.resources["aws_lambda_event_source_mapping"]) == 1, "another event source mapping polls"


def test_invoke_chain_retries_twice_then_dead_letters_and_only_under_invoke() -> None:
    config = AWS.resources["aws_lambda_function_event_invoke_config"]["stage"]
    assert config["for_each"] == "${local.invoked}"
    assert AWS.locals["invoked"].startswith('${var.chain == "invoke" ? ') and AWS.locals["invoked"].endswith(" : {}}")
    assert config["maximum_retry_attempts"] == "${local.invoke_retries}" and AWS.locals["invoke_retries"] == 2
    destination = config["destination_config"][0]["on_failure"][0]["destination"]
    assert destination == "${aws_sqs_queue.dead_letter[each.key].arn}", "a failure must land in the stage's DLQ"


def test_workflow_is_created_only_under_chain_workflow_and_is_standard() -> None:
    machine = AWS.resources["aws_sfn_state_machine"]["cycle"]
    assert machine["count"] == "${local.workflow ? 1 : 0}"
    assert machine["type"] == "STANDARD", "express has no free tier"
    workflow = GCP.resources["google_workflows_workflow"]["cycle"]
    assert workflow["count"] == "${local.workflow ? 1 : 0}"
    for module in (AWS, GCP):  # and only on the cloud where the cycle runs (test_terraform_plans checks each layout)
        assert module.locals["workflow"].startswith('${var.chain == "workflow" && '), module.path
    assert GCP.locals["pushes"].startswith('${var.chain == "workflow" ? {} : '), "a workflow and pushes both"


@pytest.mark.parametrize(
    ("module", "kind", "template", "suffix"),
    [
        ("aws", "aws_sfn_state_machine", "aws/cycle.asl.json", "_arn"),
        ("gcp", "google_workflows_workflow", "gcp/cycle.yaml", "_url"),
    ],
)
def test_terraform_fills_every_placeholder_of_the_workflow_definitions(
    module: str, kind: str, template: str, suffix: str
) -> None:
    parsed = AWS if module == "aws" else GCP
    assert parsed.locals["cycle_functions"] == [f for f in FUNCTIONS if f != "manual_trade"]
    body = next(iter(parsed.resources[kind].values()))
    expression = body["definition" if module == "aws" else "source_contents"]
    assert f"workflows/{template}" in expression
    filled = set(re.findall(r"(\w+) = ", expression)) | {f"{f}{suffix}" for f in parsed.locals["cycle_functions"]}
    filled.discard("f")
    assert '"${f}' + suffix + '"' in expression
    assert placeholders((WORKFLOWS / template).read_text()) <= filled


# -- names: one rule, coinswarm.config.deploy.deployed_name, fed through `coinswarm deploy tfvars` ------------


def test_every_function_and_its_role_log_group_and_account_is_named_by_function_names() -> None:
    named = "${var.function_names[each.key]}"
    assert AWS.resources["aws_lambda_function"]["this"]["function_name"] == named
    assert AWS.resources["aws_iam_role"]["function"]["name"] == named
    assert AWS.resources["aws_iam_role_policy"]["function"]["name"] == named
    assert GCP.resources["google_cloudfunctions2_function"]["this"]["name"] == named
    assert GCP.resources["google_service_account"]["function"]["account_id"] == named
    for module in all_modules():
        for path in module.glob("*.tf"):
            text = path.read_text()
            assert "replace(each.key" not in text, f"{path}: a name derived apart from function_names"


# -- secrets: never in an environment, each one sensitive, read only by its own functions ---------------------


def test_no_secret_reaches_a_function_environment() -> None:
    environments = [
        str(AWS.resources["aws_lambda_function"]["this"]["environment"][0]["variables"]),
        str(GCP.resources["google_cloudfunctions2_function"]["this"]["service_config"][0]["environment_variables"]),
        str(AWS.locals["base_environment"]),
        str(GCP.locals["base_environment"]),
    ]
    for text in environments:
        assert "var.secrets" not in text and "cosmos_key" not in text and "secret_environment" not in text, text
    root = load_module(TERRAFORM_DIR)
    for name in ("aws", "gcp"):
        assert "cosmos_key" not in str(root.locals["history_environment"]), name


def test_every_secret_variable_is_sensitive_and_has_no_value_by_default() -> None:
    for module in all_modules():
        for name, variable in load_module(module).variables.items():
            if name in ("secrets", "cosmos_key", "push_secret", "manual_trade_secret") or name.startswith("exchange_"):
                assert variable.get("sensitive") is True, f"{module}: variable {name} is not sensitive"
                assert variable.get("default") in (None, {}), f"{module}: variable {name} has a default value"


def test_secrets_are_secure_strings_readable_only_by_their_readers() -> None:
    parameter = AWS.resources["aws_ssm_parameter"]["secret"]
    assert parameter["type"] == "SecureString" and parameter["for_each"] == "${local.secrets}"
    specs = AWS.locals["secret_specs"]
    assert {s["parameter"] for s in specs.values()} >= {"manual-trade-secret", "push-secret"}, "what the code reads"
    assert specs["manual_trade_secret"]["readers"] == ["manual_trade"]
    gcp = GCP.locals["secret_specs"]
    assert {k: v["secret_id"] for k, v in gcp.items()} == {k: v["parameter"] for k, v in specs.items()}
    # the grants name each function's own parameters, nothing broader
    read = [s for s in AWS.resources.get("aws_iam_role_policy", {}).values() if "ssm" in str(s)] + [
        str(AWS.locals["readable"])
    ]
    assert not [r for r in read if "parameter/*" in str(r) or '"ssm:*"' in str(r)]
    assert (
        GCP.resources["google_secret_manager_secret_iam_member"]["reader"]["role"]
        == "roles/secretmanager.secretAccessor"
    )
