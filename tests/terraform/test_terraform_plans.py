"""`terraform plan` of the root module for every layout the configuration accepts (plan_layouts.LAYOUTS),
against the real schemas of hashicorp/aws, google and azurerm (the stand-in providers), with the variables
`coinswarm deploy tfvars` writes from the layout's configuration; then what each plan would create.

One `terraform init`; the plans run side by side, each with its own variables, state and plan file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from plan_layouts import (
    EXISTING_ACCOUNT,
    LAYOUTS,
    OTHER,
    SECRETS,
    Layout,
    Plan,
    strings,
    write_packages,
    write_variables,
)

from coinswarm.config.deploy import CYCLE_FUNCTIONS, FUNCTIONS, PUSH_RECEIVER, deployed_name
from coinswarm.http.push_wire import received_on
from servers.terraform import Terraform, copy_tree

PLAN_WORKERS = 3  # the stand-in providers wait on their own start-up as much as they compute
FREE_SCHEDULER_JOBS = 3
GCP_LABEL = re.compile(r"[a-z][a-z0-9_-]{0,62}")
GCP_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
IDS = [layout.id for layout in LAYOUTS]


def _plan(terraform: Terraform, root: Path, layout: Layout, var_files: list[Path]) -> Plan:
    folder = var_files[0].parent
    plan_file = folder / "layout.tfplan"
    done = terraform.run(
        root,
        "plan",
        "-input=false",
        "-refresh=false",
        "-lock=false",
        f"-state={folder / 'layout.tfstate'}",
        f"-out={plan_file}",
        *(f"-var-file={f}" for f in var_files),
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"terraform plan of {layout.id} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return Plan.read(layout, terraform.run(root, "show", "-json", str(plan_file)).stdout)


@pytest.fixture(scope="module")
def plans(standin_terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Plan]]]:
    base = tmp_path_factory.mktemp("plans")
    root = copy_tree(base)
    standin_terraform.run(root, "init", "-backend=false", "-input=false")
    packages = write_packages(base / "dist")
    variables = {layout.id: write_variables(layout, base / layout.id, packages) for layout in LAYOUTS}
    with ThreadPoolExecutor(PLAN_WORKERS) as pool:
        yield {
            layout.id: pool.submit(_plan, standin_terraform, root, layout, variables[layout.id]) for layout in LAYOUTS
        }


@pytest.fixture(params=LAYOUTS, ids=IDS)
def plan(request: pytest.FixtureRequest, plans: dict[str, Future[Plan]]) -> Plan:
    return plans[request.param.id].result()


def _expected_functions(layout: Layout, cloud: str) -> set[str]:
    here = {deployed_name(f, "plan") for f in FUNCTIONS if layout.placement[f] == cloud}
    if received_on(layout.placement, cloud):
        here.add(deployed_name(PUSH_RECEIVER, "plan"))
    return here


def test_the_functions_land_on_the_cloud_the_placement_names(plan: Plan) -> None:
    layout = plan.layout
    assert plan.names("aws_lambda_function", "function_name") == _expected_functions(layout, "aws")
    assert plan.names("google_cloudfunctions2_function") == _expected_functions(layout, "gcp")
    for function in plan.of("aws_lambda_function"):
        assert function.values["memory_size"] == 512, function.address  # deploy.memory_mb
    for function in plan.of("google_cloudfunctions2_function"):
        service = function.values["service_config"][0]
        assert service["available_memory"] == "512Mi", "deploy.memory_mb is MiB; 512M would be 10^6-byte megabytes"
        assert function.unknown["build_config"][0]["service_account"], "built by the deployment's own build account"


def test_one_schedule_starts_the_cycle_on_its_cloud_at_its_cadence(plan: Plan) -> None:
    layout = plan.layout
    aws, gcp = plan.of("aws_scheduler_schedule"), plan.of("google_cloud_scheduler_job")
    assert len(gcp) <= FREE_SCHEDULER_JOBS
    assert len(aws) + len(gcp) == 1, "one schedule: the cycle's start"
    if layout.placement["tick_ingest"] == "aws":
        expected = "rate(1 minute)" if layout.cycle_minutes == 1 else f"rate({layout.cycle_minutes} minutes)"
        assert aws[0].values["schedule_expression"] == expected
    else:
        expected = "*/1 * * * *" if layout.cycle_minutes == 1 else "0 */1 * * *"
        assert gcp[0].values["schedule"] == expected


def test_no_function_keeps_an_instance_warm(plan: Plan) -> None:
    assert not plan.of("aws_lambda_provisioned_concurrency_config")
    for function in plan.of("google_cloudfunctions2_function"):
        assert function.values["service_config"][0]["min_instance_count"] == 0, function.address


def test_every_aws_function_logs_into_a_group_with_the_configured_retention(plan: Plan) -> None:
    groups = {g.values["name"]: g.values["retention_in_days"] for g in plan.of("aws_cloudwatch_log_group")}
    functions = plan.names("aws_lambda_function", "function_name")
    assert groups == {f"/aws/lambda/{name}": 7 for name in functions}  # deploy.log_retention_days


def test_secrets_are_only_in_ssm_and_secret_manager(plan: Plan) -> None:
    kept_in = {"aws_ssm_parameter": "value", "google_secret_manager_secret_version": "secret_data"}
    for resource in plan.resources:
        for path, text in strings(resource.values):
            leaked = [name for name, secret in SECRETS.items() if secret in text]
            assert not leaked or path == f".{kept_in.get(resource.type)}", f"{leaked} in {resource.address}{path}"
    where = {r.type for r in plan.resources if r.type in kept_in}
    store = {"aws": "aws_ssm_parameter", "gcp": "google_secret_manager_secret_version"}
    assert where == {store[cloud] for cloud in plan.layout.placement.values()}
    for function in plan.of("aws_lambda_function"):
        assert "SECRET_SETTINGS" in function.values["environment"][0]["variables"], "the Cosmos DB key: from SSM"


def test_the_free_tier_invariants_hold(plan: Plan) -> None:
    tables = plan.of("aws_dynamodb_table")
    assert all(t.values["billing_mode"] == "PROVISIONED" for t in tables)
    assert (
        sum(t.values["read_capacity"] for t in tables) <= 25 and sum(t.values["write_capacity"] for t in tables) <= 25
    )
    (account,) = plan.of("azurerm_cosmosdb_account")
    assert account.values["free_tier_enabled"] is True
    name = account.values["name"]
    assert name == EXISTING_ACCOUNT if plan.layout.existing else re.fullmatch(r"plan-history-[0-9a-f]{6}", name)
    (database,) = plan.of("azurerm_cosmosdb_sql_database")
    assert database.values["throughput"] <= 1000
    assert all(c.values.get("throughput") is None for c in plan.of("azurerm_cosmosdb_sql_container"))
    assert all(m.values["type"] == "STANDARD" for m in plan.of("aws_sfn_state_machine"))
    polling = plan.of("aws_lambda_event_source_mapping")  # each polls SQS even when idle
    assert not polling or plan.layout.chain == "queues", "only chain queues polls"
    assert polling or plan.layout.chain != "queues" or plan.layout.cycle != "aws"
    for subscription in plan.of("google_pubsub_subscription"):
        policy = subscription.values.get("dead_letter_policy") or [{"max_delivery_attempts": 5}]
        assert policy[0]["max_delivery_attempts"] == 5, subscription.address


def test_the_workflow_is_built_where_the_cycle_runs_and_destroys_cleanly(plan: Plan) -> None:
    layout = plan.layout
    machines, workflows = plan.of("aws_sfn_state_machine"), plan.of("google_workflows_workflow")
    on = {"aws": len(machines), "gcp": len(workflows)}
    assert on == {c: int(layout.chain == "workflow" and c == layout.cycle) for c in ("aws", "gcp")}
    assert all(w.values["deletion_protection"] is False for w in workflows), "terraform destroy must remove it"
    databases = plan.of("google_firestore_database")
    assert len(databases) == int("gcp" in layout.placement.values() and not layout.existing), "one, unless it exists"
    for database in databases:
        assert database.values["delete_protection_state"] == "DELETE_PROTECTION_DISABLED"
        assert database.values["deletion_policy"] == "DELETE"


def test_google_cloud_gets_its_apis_enabled_and_labels_it_accepts(plan: Plan) -> None:
    if "gcp" not in plan.layout.placement.values():
        assert not [r for r in plan.resources if r.type.startswith("google_")]
        return
    services = plan.names("google_project_service", "service")
    needed = {"cloudfunctions", "run", "cloudbuild", "artifactregistry", "pubsub", "firestore", "secretmanager"}
    if plan.layout.placement["tick_ingest"] == "gcp":
        needed.add("cloudscheduler")
    if plan.layout.chain == "workflow" and plan.layout.cycle == "gcp":
        needed |= {"workflows", "workflowexecutions"}
    assert {f"{s}.googleapis.com" for s in needed} <= services
    assert all(s.values["disable_on_destroy"] is False for s in plan.of("google_project_service"))
    for resource in plan.resources:
        for key, value in (resource.values.get("labels") or {}).items() if resource.type.startswith("google_") else ():
            assert GCP_LABEL.fullmatch(key) and GCP_LABEL_VALUE.fullmatch(value), f"{resource.address}: {key}={value}"
    assert plan.of("google_storage_bucket")[0].values["labels"] == {"project": "coin_swarm", "owner": "ops"}


def test_every_accepted_layout_is_planned() -> None:
    """The layouts cover each chain with the cycle on each cloud, a stage and manual_trade on the other
    cloud, and both cadences; and the one split the configuration refuses is refused by it."""
    covered = {(layout.chain, layout.cycle) for layout in LAYOUTS if not layout.moved}
    assert covered == {(c, cloud) for c in ("invoke", "queues", "workflow") for cloud in ("aws", "gcp")}
    moved = {f for layout in LAYOUTS for f, cloud in layout.moved.items() if cloud == OTHER[layout.cycle]}
    assert "manual_trade" in moved and moved & set(CYCLE_FUNCTIONS)
    assert {layout.timeframe for layout in LAYOUTS} == {"1m", "1h"}


def test_google_credentials_are_needed_only_where_something_runs_on_google_cloud(plan: Plan) -> None:
    """Terraform configures the google provider even when no google resource is planned (seen with the
    stand-ins), and a configured google provider looks for credentials: with nothing on Google Cloud it
    gets a token that is never used."""
    on_gcp = "gcp" in plan.layout.placement.values()
    needed = plan.document["planned_values"]["outputs"]["credentials_needed"]["value"]
    assert needed == {"aws": "aws" in plan.layout.placement.values(), "google": on_gcp, "azure": True}
    token = plan.document["configuration"]["provider_config"]["google"]["expressions"]["access_token"]
    assert "local.on_gcp" in token["references"]
