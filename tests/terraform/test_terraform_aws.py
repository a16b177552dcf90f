"""The AWS module for real: `terraform validate`, then `apply` against a moto server with the variables
`coinswarm deploy tfvars` writes, every created resource read back with boto3, then `destroy`: one
deployment per chain (queues; invoke with a stage on the other cloud, so the push receiver and the
secrets too; workflow), each applied once and destroyed once, the three side by side (module-scoped
`deployed`); the tests of a chain read its one deployment, and the last test destroys them all."""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from coinswarm.adapters.sqs_bus import QUEUES
from coinswarm.cli.main import main as coinswarm
from coinswarm.config import load_settings
from coinswarm.config.deploy import FUNCTIONS, deployed_name
from functions.secret_settings import ssm_fetch, with_secret_settings
from servers.moto import aws_client
from servers.terraform import Terraform

FAKE_SECRET = "fake-manual-trade-secret-for-tests"
FAKE_SECRETS = {
    "cosmos_key": "ZmFrZS1jb3Ntb3Mta2V5LWZvci10ZXN0cw==",
    "push_secret": "fake-push-secret-for-tests",
    "exchange_api_key": "fake-exchange-key-for-tests",
    "exchange_api_secret": "fake-exchange-secret-for-tests",
    "manual_trade_secret": FAKE_SECRET,
}
GCP_RECEIVER = "https://tfprefix-push-receiver-123456789012.us-central1.run.app"


def test_aws_module_validates(terraform: Terraform, aws_example: Path) -> None:
    done = terraform.run(aws_example, "validate")
    assert "The configuration is valid" in done.stdout


def _packages(folder: Path) -> Path:
    """A tiny zip per function where `make package` would put the real ones (moto stores, never runs, them)."""
    folder.mkdir()
    for name in (*FUNCTIONS, "push_receiver"):
        with zipfile.ZipFile(folder / f"{name}.zip", "w") as zf:
            zf.writestr(f"functions/{name}/aws.py", "def handler(event, context):\n    return {}\n")
    return folder


def _tfvars(folder: Path, prefix: str, deploy: str) -> Path:
    """The variables of a configuration, written by the CLI exactly as a user would."""
    config = folder / "coinswarm.toml"
    config.write_text(
        'symbols = ["BTC-USD", "ETH-USD"]\ntimeframe = "5m"\n[committee]\nthreshold = 0.75\n'
        f'[aws]\ntable_prefix = "{prefix}"\n[deploy]\nmemory_mb = 512\nlog_retention_days = 7\n{deploy}'
    )
    out = folder / "coinswarm.auto.tfvars.json"
    assert coinswarm(["deploy", "tfvars", "--config", str(config), "--out", str(out)]) == 0
    return out


@dataclass
class Deployment:
    """One chain's deployment on moto: its prefix, endpoint, the -var-file/-state arguments, and after
    apply the module's outputs."""

    chain: str
    prefix: str
    endpoint: str
    args: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)
    destroyed: bool = False

    @property
    def name(self) -> dict[str, str]:
        return {f: deployed_name(f, self.prefix) for f in (*FUNCTIONS, "push_receiver")}


Deployed = dict[str, Future[Deployment]]  # what `deployed` gives: each chain's deployment once applied

# Each chain: its deploy section, and the deployment's own variables (endpoint given apart).
CHAINS: dict[str, tuple[str, dict[str, Any]]] = {
    "queues": ('chain = "queues"\n', {"manual_trade_secret": FAKE_SECRET}),
    "invoke": (
        'chain = "invoke"\nplacement = { agent_scoring = "gcp" }\n',
        {
            "push_urls": {"candles": GCP_RECEIVER},
            "cosmos_endpoint": "https://example.documents.azure.com:443/",
            **FAKE_SECRETS,
        },
    ),
    "workflow": ('chain = "workflow"\n', {}),
}


def _prepare(chain: str, endpoint: str, folder: Path) -> Deployment:
    prefix = f"tf{uuid.uuid4().hex[:8]}"
    deploy, extra = CHAINS[chain]
    tfvars = _tfvars(folder, prefix, deploy)
    deployment = folder / "deployment.tfvars.json"
    given = {"package_dir": str(_packages(folder / "dist")), "aws_endpoint": endpoint, **extra}
    deployment.write_text(json.dumps(given))
    state = folder / "terraform.tfstate"
    return Deployment(chain, prefix, endpoint, [f"-var-file={tfvars}", f"-var-file={deployment}", f"-state={state}"])


def _apply(terraform: Terraform, workdir: Path, deployment: Deployment) -> Deployment:
    terraform.run(workdir, "apply", "-auto-approve", "-parallelism=20", *deployment.args)
    state = next(a for a in deployment.args if a.startswith("-state="))
    deployment.outputs = json.loads(terraform.run(workdir, "output", "-json", state).stdout)["aws"]["value"]
    return deployment


def _destroy(terraform: Terraform, workdir: Path, deployment: Deployment) -> None:
    if not deployment.destroyed:
        deployment.destroyed = True
        # nothing to refresh: the state is what apply made, and destroy removes what the state names
        terraform.run(workdir, "destroy", "-auto-approve", "-parallelism=20", "-refresh=false", *deployment.args)


@pytest.fixture(scope="module")
def deployed(
    terraform: Terraform,
    aws_example: Path,
    moto_server: str,
    sfn_moto_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployed]:
    """Each chain applied once on moto, the three at once (independent prefixes); destroyed at the end
    by test_destroy_removes_every_chains_resources, or here whatever that did not."""
    # the workflow chain needs the moto that validates Step Functions definitions (conftest.py)
    endpoints = {"queues": moto_server, "invoke": moto_server, "workflow": sfn_moto_server}
    deployments = {c: _prepare(c, endpoints[c], tmp_path_factory.mktemp(f"apply-{c}")) for c in CHAINS}
    with ThreadPoolExecutor(len(deployments)) as pool:
        yield {c: pool.submit(_apply, terraform, aws_example, d) for c, d in deployments.items()}
        for done in [pool.submit(_destroy, terraform, aws_example, d) for d in deployments.values()]:
            done.result()


# -- chain "queues" ----------------------------------------------------------------------------------------


def test_queues_chain_provisions_the_tables_within_the_free_tier(deployed: Deployed) -> None:
    d = deployed["queues"].result()
    _check_tables(d.endpoint, d.prefix, d.outputs)


def test_queues_chain_creates_the_queues_and_functions_the_code_expects(
    deployed: Deployed,
) -> None:
    d = deployed["queues"].result()
    queue_arns = _check_queues(d.endpoint, d.prefix)
    _check_functions(d.endpoint, d.prefix, queue_arns, d.outputs)


def test_queues_chain_schedules_the_cycle_keeps_logs_and_the_secret(deployed: Deployed) -> None:
    d = deployed["queues"].result()
    _check_schedule_logs_and_secret(d.endpoint, d.prefix)


def _check_tables(endpoint: str, prefix: str, outputs: dict[str, Any]) -> None:
    dynamodb = aws_client("dynamodb", endpoint)
    assert outputs["table_names"] == {"state": f"{prefix}-state", "idempotency": f"{prefix}-idempotency"}
    total_read = total_write = 0
    for name in outputs["table_names"].values():
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
        total_read += table["ProvisionedThroughput"]["ReadCapacityUnits"]
        total_write += table["ProvisionedThroughput"]["WriteCapacityUnits"]
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl["TimeToLiveStatus"] == "ENABLED", name
    assert total_read <= 25 and total_write <= 25
    state = dynamodb.describe_table(TableName=f"{prefix}-state")["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in state["KeySchema"]} == {("pk", "HASH"), ("sk", "RANGE")}
    assert outputs["provisioned_capacity"] == {"read": total_read, "write": total_write}


def _check_queues(endpoint: str, prefix: str) -> dict[str, str]:
    sqs = aws_client("sqs", endpoint)
    arns: dict[str, str] = {}
    for spec in QUEUES:
        url = sqs.get_queue_url(QueueName=spec.name(prefix))["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        dlq_url = sqs.get_queue_url(QueueName=spec.dlq_name(prefix))["QueueUrl"]
        dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq["QueueArn"], spec.topic
        assert int(redrive["maxReceiveCount"]) == spec.max_receive_count
        assert int(attributes["VisibilityTimeout"]) == spec.visibility_timeout_s
        assert int(attributes["MessageRetentionPeriod"]) == spec.retention_s
        assert int(dlq["MessageRetentionPeriod"]) == spec.dlq_retention_s
        arns[spec.topic] = attributes["QueueArn"]
    return arns


def _check_functions(endpoint: str, prefix: str, queue_arns: dict[str, str], outputs: dict[str, Any]) -> None:
    lam = aws_client("lambda", endpoint)
    iam = aws_client("iam", endpoint)
    roles = set()
    for name in FUNCTIONS:
        config = lam.get_function(FunctionName=deployed_name(name, prefix))["Configuration"]
        assert config["Runtime"] in ("python3.11", "python3.12")
        assert config["Architectures"] == ["arm64"]
        assert config["Handler"] == f"functions.{name}.aws.handler"
        assert config["MemorySize"] == 512  # deploy.memory_mb of the configuration
        env = config["Environment"]["Variables"]
        assert env["COINSWARM_AWS__TABLE_PREFIX"] == prefix and env["COINSWARM_STORE__STATE"] == "dynamodb"
        assert env["COINSWARM_TIMEFRAME"] == '"5m"' and env["COINSWARM_COMMITTEE__THRESHOLD"] == "0.75"
        assert FAKE_SECRET not in json.dumps(env)
        roles.add(config["Role"])
    assert len(roles) == len(FUNCTIONS), "one role per function"

    scoring = lam.get_function(FunctionName=deployed_name("agent_scoring", prefix))["Configuration"]
    assert scoring["Environment"]["Variables"]["COINSWARM_QUEUE_URL_SCORES"].endswith(f"/{prefix}-scores")
    assert "SECRET_SETTINGS" not in scoring["Environment"]["Variables"]  # no Cosmos DB key given here
    statements = _statements(iam, deployed_name("agent_scoring", prefix))
    assert statements["PublishNextStage"]["Resource"] == queue_arns["scores"]
    assert statements["ConsumeOwnQueue"]["Resource"] == queue_arns["candles"]
    assert "ReadOwnSecrets" not in statements and "InvokeNextStage" not in statements

    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    by_queue = {m["EventSourceArn"]: m for m in mappings if m["EventSourceArn"] in queue_arns.values()}
    for spec in QUEUES:
        mapping = by_queue[queue_arns[spec.topic]]
        assert mapping["FunctionArn"].endswith(f":{deployed_name(spec.consumer, prefix)}")
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == spec.batch_size

    url = lam.get_function_url_config(FunctionName=deployed_name("manual_trade", prefix))
    assert url["AuthType"] == "NONE"
    assert outputs["manual_trade_url"] == url["FunctionUrl"]


def _check_schedule_logs_and_secret(endpoint: str, prefix: str) -> None:
    schedule = aws_client("scheduler", endpoint).get_schedule(Name=f"{prefix}-tick")
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"  # timeframe = "5m"
    assert schedule["Target"]["Arn"].endswith(f":function:{deployed_name('tick_ingest', prefix)}")

    groups = aws_client("logs", endpoint).describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}-")["logGroups"]
    assert {g["logGroupName"] for g in groups} == {f"/aws/lambda/{deployed_name(name, prefix)}" for name in FUNCTIONS}
    assert {g.get("retentionInDays") for g in groups} == {7}  # deploy.log_retention_days

    parameter = aws_client("ssm", endpoint).get_parameter(Name=f"/{prefix}/manual-trade-secret", WithDecryption=True)
    assert parameter["Parameter"]["Type"] == "SecureString"
    assert parameter["Parameter"]["Value"] == FAKE_SECRET


def _statements(iam: Any, role: str) -> dict[str, Any]:
    policy = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
    return {s["Sid"]: s for s in (policy if isinstance(policy, dict) else json.loads(policy))["Statement"]}


# -- chain "invoke", agent_scoring on the other cloud ------------------------------------------------------


def test_invoke_chain_deploys_all_but_the_stage_on_the_other_cloud_and_a_push_receiver(deployed: Deployed) -> None:
    d = deployed["invoke"].result()
    lam = aws_client("lambda", d.endpoint)
    deployed_here = {
        f["FunctionName"] for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith(d.prefix)
    }
    assert deployed_here == {d.name[f] for f in d.name if f != "agent_scoring"}, "agent_scoring is on gcp; a receiver"


def test_invoke_chain_polls_nothing_and_dead_letters_each_hop(deployed: Deployed) -> None:
    d = deployed["invoke"].result()
    lam, iam, sqs = (aws_client(s, d.endpoint) for s in ("lambda", "iam", "sqs"))
    # nothing polls: no stage queue, no event source mapping; a dead-letter queue per hop inside AWS
    mine = [m for m in lam.list_event_source_mappings()["EventSourceMappings"] if d.prefix in m["FunctionArn"]]
    assert mine == []
    queues = {u.rsplit("/", 1)[1] for u in sqs.list_queues(QueueNamePrefix=d.prefix).get("QueueUrls", [])}
    assert queues == {f"{d.prefix}-decisions-dlq", f"{d.prefix}-placements-dlq"}
    for topic, consumer in (("decisions", "order_placement"), ("placements", "trade_logging")):
        config = lam.get_function_event_invoke_config(FunctionName=d.name[consumer])
        assert config["MaximumRetryAttempts"] == 2
        dlq = sqs.get_queue_url(QueueName=f"{d.prefix}-{topic}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == dlq_arn
        assert _statements(iam, d.name[consumer])["DeadLetterOwnFailures"]["Resource"] == dlq_arn


def test_invoke_chain_lets_each_producer_invoke_its_consumer_only(deployed: Deployed) -> None:
    d = deployed["invoke"].result()
    lam, iam = aws_client("lambda", d.endpoint), aws_client("iam", d.endpoint)
    arns = {
        f: lam.get_function(FunctionName=d.name[f])["Configuration"]["FunctionArn"]
        for f in d.name
        if f in d.outputs["function_names"]
    }
    for producer, consumer in (("committee_vote", "order_placement"), ("push_receiver", "order_placement")):
        assert _statements(iam, d.name[producer])["InvokeNextStage"]["Resource"] == arns[consumer], producer
    assert _statements(iam, d.name["order_placement"])["InvokeNextStage"]["Resource"] == arns["trade_logging"]
    assert "InvokeNextStage" not in _statements(iam, d.name["tick_ingest"]), "candles go to the other cloud"


def test_invoke_chain_keeps_the_secrets_in_ssm_readable_by_their_users_only(deployed: Deployed) -> None:
    d = deployed["invoke"].result()
    lam, iam, ssm = (aws_client(s, d.endpoint) for s in ("lambda", "iam", "ssm"))
    # the secrets: SecureString parameters, never in an environment, each readable by its users only
    parameter = {k: f"/{d.prefix}/{k.replace('_', '-')}" for k in FAKE_SECRETS}
    for secret, path in parameter.items():
        got = ssm.get_parameter(Name=path, WithDecryption=True)["Parameter"]
        assert (got["Type"], got["Value"]) == ("SecureString", FAKE_SECRETS[secret]), path
    assert d.outputs["secret_parameters"] == parameter
    readers = {
        "tick_ingest": {"cosmos_key", "push_secret"},
        "committee_vote": {"cosmos_key"},
        "order_placement": {"cosmos_key", "exchange_api_key", "exchange_api_secret"},
        "trade_logging": {"cosmos_key"},
        "manual_trade": {"cosmos_key", "exchange_api_key", "exchange_api_secret", "manual_trade_secret", "push_secret"},
        "push_receiver": {"cosmos_key", "push_secret"},
    }
    for function, allowed in readers.items():
        config = lam.get_function(FunctionName=d.name[function])["Configuration"]
        env = config["Environment"]["Variables"]
        assert not [v for v in FAKE_SECRETS.values() if v in json.dumps(env)], function
        assert json.loads(env["COINSWARM_DEPLOY__PLACEMENT"])["agent_scoring"] == "gcp"
        assert json.loads(env["COINSWARM_DEPLOY__CHAIN"]) == "invoke"
        settings = json.loads(env["SECRET_SETTINGS"])
        assert settings["azure.cosmos_key"] == parameter["cosmos_key"], function
        assert ("venues.0.api_key" in settings) == ("exchange_api_key" in allowed), function
        resources = _statements(iam, d.name[function])["ReadOwnSecrets"]["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        assert sorted(r.split(":parameter", 1)[1] for r in resources) == sorted(parameter[s] for s in allowed)


def test_invoke_chain_functions_read_their_secret_settings_at_cold_start(deployed: Deployed) -> None:
    d = deployed["invoke"].result()
    lam, ssm = aws_client("lambda", d.endpoint), aws_client("ssm", d.endpoint)
    # what a function reads at cold start (functions/secret_settings.py) gives it its secret settings
    placement = lam.get_function(FunctionName=d.name["order_placement"])["Configuration"]["Environment"]["Variables"]
    loaded = load_settings(env=with_secret_settings(placement, ssm_fetch(ssm)))
    assert loaded.azure.cosmos_key is not None
    assert loaded.azure.cosmos_key.get_secret_value() == FAKE_SECRETS["cosmos_key"]
    venue = loaded.venues[0]
    assert venue.api_key is not None and venue.api_key.get_secret_value() == FAKE_SECRETS["exchange_api_key"]
    assert venue.api_secret is not None
    assert venue.api_secret.get_secret_value() == FAKE_SECRETS["exchange_api_secret"]
    assert (loaded.store.history, loaded.deploy.chain, loaded.mode) == ("cosmos", "invoke", "paper")


def test_invoke_chain_pushes_candles_out_and_receives_scores(deployed: Deployed) -> None:
    d = deployed["invoke"].result()
    lam = aws_client("lambda", d.endpoint)
    # the push: candles go to the other cloud's receiver; scores come in through this one
    tick = lam.get_function(FunctionName=d.name["tick_ingest"])["Configuration"]["Environment"]["Variables"]
    assert json.loads(tick["COINSWARM_PUSH__URLS"]) == {"candles": GCP_RECEIVER}
    url = lam.get_function_url_config(FunctionName=d.name["push_receiver"])
    assert url["AuthType"] == "NONE" and d.outputs["push_receiver_url"] == url["FunctionUrl"]
    assert d.outputs["received_topics"] == ["scores"]


# -- chain "workflow" --------------------------------------------------------------------------------------


def test_workflow_chain_starts_a_state_machine_that_calls_the_deployed_functions(deployed: Deployed) -> None:
    d = deployed["workflow"].result()
    lam, sqs = aws_client("lambda", d.endpoint), aws_client("sqs", d.endpoint)
    sfn = aws_client("stepfunctions", d.endpoint)
    machine = sfn.describe_state_machine(stateMachineArn=d.outputs["state_machine_arn"])
    definition = json.loads(machine["definition"])
    called = {
        s["Parameters"]["FunctionName"]
        for s in definition["States"].values()
        if "lambda:invoke" in s.get("Resource", "")
    }
    assert called == {
        lam.get_function(FunctionName=d.name[f])["Configuration"]["FunctionArn"]
        for f in FUNCTIONS
        if f != "manual_trade"
    }
    dlq = sqs.get_queue_url(QueueName=f"{d.prefix}-cycle-dlq")["QueueUrl"]
    assert definition["States"]["DeadLetter"]["Parameters"]["QueueUrl"] == dlq
    schedule = aws_client("scheduler", d.endpoint).get_schedule(Name=f"{d.prefix}-tick")
    assert schedule["Target"]["Arn"] == d.outputs["state_machine_arn"]
    assert not [m for m in lam.list_event_source_mappings()["EventSourceMappings"] if d.prefix in m["FunctionArn"]]
    assert {u.rsplit("/", 1)[1] for u in sqs.list_queues(QueueNamePrefix=d.prefix)["QueueUrls"]} == {
        f"{d.prefix}-cycle-dlq"
    }


# -- and destroy, last ---------------------------------------------------------------------------------------


def test_destroy_removes_every_chains_resources(terraform: Terraform, aws_example: Path, deployed: Deployed) -> None:
    applied = {chain: future.result() for chain, future in deployed.items()}
    with ThreadPoolExecutor(len(applied)) as pool:
        for done in [pool.submit(_destroy, terraform, aws_example, d) for d in applied.values()]:
            done.result()
    for d in applied.values():
        dynamodb, sqs, lam, ssm = (aws_client(s, d.endpoint) for s in ("dynamodb", "sqs", "lambda", "ssm"))
        assert not [t for t in dynamodb.list_tables()["TableNames"] if t.startswith(d.prefix)], d.chain
        assert not sqs.list_queues(QueueNamePrefix=d.prefix).get("QueueUrls"), d.chain
        assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith(d.prefix)], d.chain
        assert not ssm.get_parameters_by_path(Path=f"/{d.prefix}", Recursive=True)["Parameters"], d.chain
