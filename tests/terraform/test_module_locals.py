"""The modules' placement logic, evaluated by Terraform itself: the GCP module's google provider cannot
be downloaded here, so its locals.tf and variables.tf are evaluated alone (the project number stands in
for the one data source they read) and every decision that depends on deploy.placement, deploy.chain
and the secrets given is read back as outputs. The AWS module is applied on moto for three layouts;
its locals are evaluated here for one more (the last hop on the other cloud)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coinswarm.cli.deploy import function_names
from coinswarm.config.deploy import FUNCTIONS
from servers.terraform import TERRAFORM_DIR, Terraform

GCP = TERRAFORM_DIR / "modules" / "gcp"
PROJECT_NUMBER = "123456789012"
SHOWN = ("functions", "received", "pushed", "pushes", "topics", "secrets", "readers", "secret_settings")
SHOWN += ("base_environment", "push_receiver_url")


def _evaluator(terraform: Terraform, workdir: Path, module: Path, shown: tuple[str, ...], base: dict[str, Any]) -> Any:
    locals_tf = (module / "locals.tf").read_text()
    (workdir / "locals.tf").write_text(locals_tf.replace("data.google_project.this.number", "var.project_number"))
    (workdir / "variables.tf").write_text((module / "variables.tf").read_text())
    outputs = "".join(f'output "{name}" {{\n  value = local.{name}\n}}\n' for name in shown)
    (workdir / "outputs.tf").write_text('variable "project_number" {\n  type = string\n}\n' + outputs)
    terraform.run(workdir, "init", "-backend=false")

    def evaluate(**variables: Any) -> dict[str, Any]:
        given = {
            "project_number": PROJECT_NUMBER,
            "name_prefix": "coinswarm",
            "function_names": function_names("coinswarm"),
            "cycle_minutes": 1,
            "memory_mb": 256,
            **base,
            **variables,
        }
        tfvars = workdir / "case.tfvars.json"
        tfvars.write_text(json.dumps(given))
        state = workdir / "case.tfstate"
        terraform.run(workdir, "apply", "-auto-approve", f"-var-file={tfvars}", f"-state={state}")
        outputs = json.loads(terraform.run(workdir, "output", "-json", f"-state={state}").stdout)
        return {name: o["value"] for name, o in outputs.items()}

    return evaluate


@pytest.fixture(scope="module")
def gcp_locals(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Any:
    assert "data.google_project.this.number" in (GCP / "locals.tf").read_text()
    base = {"project": "demo", "topic_prefix": "coinswarm", "package_dir": "dist/gcp"}
    return _evaluator(terraform, tmp_path_factory.mktemp("gcp-locals"), GCP, SHOWN, base)


@pytest.fixture(scope="module")
def aws_locals(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Any:
    shown = ("functions", "received", "pushed", "queues", "invoked", "dead_letters", "secrets", "base_environment")
    base = {"package_dir": "dist/aws", "log_retention_days": 14}
    return _evaluator(terraform, tmp_path_factory.mktemp("aws-locals"), TERRAFORM_DIR / "modules" / "aws", shown, base)


def test_a_stage_on_gcp_between_aws_stages_receives_by_push_and_pushes_back(gcp_locals: Any) -> None:
    got = gcp_locals(
        placement={**dict.fromkeys(FUNCTIONS, "aws"), "agent_scoring": "gcp"},
        chain="invoke",
        push_urls={"scores": "https://abc.lambda-url.us-east-1.on.aws/"},
        secrets={"push_secret": "fake-push"},
        cosmos_key_given=True,
    )
    assert set(got["functions"]) == {"agent_scoring", "push_receiver"}
    assert (got["received"], got["pushed"]) == (["candles"], ["scores"])
    assert got["pushes"] == {}, "candles arrive by HTTP push: no Pub/Sub subscription"
    assert got["push_receiver_url"] == f"https://coinswarm-push-receiver-{PROJECT_NUMBER}.us-central1.run.app"
    env = got["base_environment"]
    assert json.loads(env["COINSWARM_PUSH__URLS"]) == {"scores": "https://abc.lambda-url.us-east-1.on.aws/"}
    assert json.loads(env["COINSWARM_DEPLOY__PLACEMENT"])["agent_scoring"] == "gcp"
    assert set(got["secrets"]) == {"cosmos_key", "push_secret"}
    assert got["secrets"]["push_secret"]["readers"] == ["agent_scoring", "push_receiver"]
    assert set(got["readers"]) == {f"{s}/{f}" for s in ("cosmos_key", "push_secret") for f in got["functions"]}
    assert got["secret_settings"]["agent_scoring"] == {
        "azure.cosmos_key": "projects/demo/secrets/cosmos-key/versions/latest"
    }
    assert "fake-push" not in json.dumps(got)


def test_every_function_on_gcp_chains_by_pubsub_push_and_keeps_its_secrets(gcp_locals: Any) -> None:
    got = gcp_locals(
        placement=dict.fromkeys(FUNCTIONS, "gcp"),
        chain="queues",
        secrets={"exchange_api_key": "k", "exchange_api_secret": "s"},
        cosmos_key_given=True,
    )
    assert set(got["functions"]) == set(FUNCTIONS), "nothing crosses: no push receiver"
    assert got["pushes"] == {
        "candles": "agent_scoring",
        "scores": "committee_vote",
        "decisions": "order_placement",
        "placements": "trade_logging",
    }
    assert (got["received"], got["pushed"]) == ([], [])
    assert "COINSWARM_PUSH__URLS" not in got["base_environment"]
    # the manual trade secret exists for manual_trade to read (a version is added by hand when not given)
    assert set(got["secrets"]) == {"cosmos_key", "exchange_api_key", "exchange_api_secret", "manual_trade_secret"}
    exchange = {"venues.0.api_key", "venues.0.api_secret"}
    for function, settings in got["secret_settings"].items():
        assert ("venues.0.api_key" in settings) == (function in ("order_placement", "manual_trade")), function
        assert set(settings) <= {"azure.cosmos_key", *exchange}


def test_the_workflow_chain_has_no_push_subscription(gcp_locals: Any) -> None:
    got = gcp_locals(placement=dict.fromkeys(FUNCTIONS, "gcp"), chain="workflow")
    assert got["pushes"] == {}
    assert got["secrets"] == {"manual_trade_secret": got["secrets"]["manual_trade_secret"]}, "no Cosmos key given"
    assert got["secret_settings"] == {f: {} for f in FUNCTIONS}


def test_aws_with_the_last_hop_on_gcp_pushes_placements_and_queues_only_the_hops_inside(aws_locals: Any) -> None:
    got = aws_locals(
        placement={**dict.fromkeys(FUNCTIONS, "aws"), "trade_logging": "gcp"},
        chain="queues",
        push_urls={"placements": f"https://coinswarm-push-receiver-{PROJECT_NUMBER}.us-central1.run.app"},
        secrets={"push_secret": "fake-push"},
    )
    assert set(got["functions"]) == set(FUNCTIONS) - {"trade_logging"}, "nothing comes back: no receiver here"
    assert (got["received"], got["pushed"]) == ([], ["placements"])
    assert set(got["queues"]) == {"candles", "scores", "decisions"} and got["invoked"] == {}
    assert sorted(got["dead_letters"]) == ["candles", "decisions", "scores"]
    assert got["secrets"]["push_secret"]["readers"] == ["order_placement"], "only the pusher reads the secret"
    urls = json.loads(got["base_environment"]["COINSWARM_PUSH__URLS"])
    assert urls == {"placements": f"https://coinswarm-push-receiver-{PROJECT_NUMBER}.us-central1.run.app"}
