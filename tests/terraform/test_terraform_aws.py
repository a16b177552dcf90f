"""The AWS module for real: `terraform validate`, then `apply` against a moto server with the variables
`coinswarm deploy tfvars` writes, every created resource read back with boto3, then `destroy`."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

from coinswarm.adapters.sqs_bus import QUEUES
from coinswarm.cli.main import main as coinswarm
from coinswarm.config.deploy import FUNCTIONS
from servers.moto import aws_client
from servers.terraform import Terraform

FAKE_SECRET = "fake-manual-trade-secret-for-tests"


def test_aws_module_validates(terraform: Terraform, aws_example: Path) -> None:
    done = terraform.run(aws_example, "validate")
    assert "The configuration is valid" in done.stdout


def _packages(folder: Path) -> Path:
    """A tiny zip per function where `make package` would put the real ones (moto stores, never runs, them)."""
    folder.mkdir()
    for name in FUNCTIONS:
        with zipfile.ZipFile(folder / f"{name}.zip", "w") as zf:
            zf.writestr(f"functions/{name}/aws.py", "def handler(event, context):\n    return {}\n")
    return folder


def _tfvars(tmp_path: Path, prefix: str) -> Path:
    """The variables of a configuration, written by the CLI exactly as a user would."""
    config = tmp_path / "coinswarm.toml"
    config.write_text(
        'symbols = ["BTC-USD", "ETH-USD"]\ntimeframe = "5m"\n[committee]\nthreshold = 0.75\n'
        f'[aws]\ntable_prefix = "{prefix}"\n[deploy]\nmemory_mb = 512\nlog_retention_days = 7\n'
    )
    out = tmp_path / "coinswarm.auto.tfvars.json"
    assert coinswarm(["deploy", "tfvars", "--config", str(config), "--out", str(out)]) == 0
    return out


def test_apply_against_moto_creates_what_the_code_expects_then_destroy_removes_it(
    terraform: Terraform, aws_example: Path, moto_server: str, tmp_path: Path
) -> None:
    prefix = f"tf{uuid.uuid4().hex[:8]}"
    tfvars = _tfvars(tmp_path, prefix)
    extra = tmp_path / "deployment.tfvars.json"
    extra.write_text(
        json.dumps(
            {
                "package_dir": str(_packages(tmp_path / "dist")),
                "aws_endpoint": moto_server,
                "manual_trade_secret": FAKE_SECRET,
            }
        )
    )
    state = tmp_path / "terraform.tfstate"
    args = [f"-var-file={tfvars}", f"-var-file={extra}", f"-state={state}"]
    terraform.run(aws_example, "apply", "-auto-approve", "-parallelism=20", *args)
    try:
        outputs = json.loads(terraform.run(aws_example, "output", "-json", f"-state={state}").stdout)["aws"]["value"]
        _check_tables(moto_server, prefix, outputs)
        queue_arns = _check_queues(moto_server, prefix)
        _check_functions(moto_server, prefix, queue_arns, outputs)
        _check_schedule_logs_and_secret(moto_server, prefix)
    finally:
        terraform.run(aws_example, "destroy", "-auto-approve", "-parallelism=20", *args)
    assert not [t for t in aws_client("dynamodb", moto_server).list_tables()["TableNames"] if t.startswith(prefix)]
    assert not aws_client("sqs", moto_server).list_queues(QueueNamePrefix=prefix).get("QueueUrls")
    assert not [
        f
        for f in aws_client("lambda", moto_server).list_functions()["Functions"]
        if f["FunctionName"].startswith(prefix)
    ]


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
        config = lam.get_function(FunctionName=f"{prefix}-{name}")["Configuration"]
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

    scoring = lam.get_function(FunctionName=f"{prefix}-agent_scoring")["Configuration"]["Environment"]["Variables"]
    assert scoring["COINSWARM_QUEUE_URL_SCORES"].endswith(f"/{prefix}-scores")
    policy = iam.get_role_policy(RoleName=f"{prefix}-agent_scoring", PolicyName=f"{prefix}-agent_scoring")[
        "PolicyDocument"
    ]
    statements = {s["Sid"]: s for s in (policy if isinstance(policy, dict) else json.loads(policy))["Statement"]}
    assert statements["PublishNextStage"]["Resource"] == queue_arns["scores"]
    assert statements["ConsumeOwnQueue"]["Resource"] == queue_arns["candles"]
    assert "ReadManualTradeSecret" not in statements

    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    by_queue = {m["EventSourceArn"]: m for m in mappings if m["EventSourceArn"] in queue_arns.values()}
    for spec in QUEUES:
        mapping = by_queue[queue_arns[spec.topic]]
        assert mapping["FunctionArn"].endswith(f":{prefix}-{spec.consumer}")
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == spec.batch_size

    url = lam.get_function_url_config(FunctionName=f"{prefix}-manual_trade")
    assert url["AuthType"] == "NONE"
    assert outputs["manual_trade_url"] == url["FunctionUrl"]


def _check_schedule_logs_and_secret(endpoint: str, prefix: str) -> None:
    schedule = aws_client("scheduler", endpoint).get_schedule(Name=f"{prefix}-tick")
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"  # timeframe = "5m"
    assert schedule["Target"]["Arn"].endswith(f":function:{prefix}-tick_ingest")

    groups = aws_client("logs", endpoint).describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}-")["logGroups"]
    assert {g["logGroupName"] for g in groups} == {f"/aws/lambda/{prefix}-{name}" for name in FUNCTIONS}
    assert {g.get("retentionInDays") for g in groups} == {7}  # deploy.log_retention_days

    parameter = aws_client("ssm", endpoint).get_parameter(Name=f"/{prefix}/manual-trade-secret", WithDecryption=True)
    assert parameter["Parameter"]["Type"] == "SecureString"
    assert parameter["Parameter"]["Value"] == FAKE_SECRET
