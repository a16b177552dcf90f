"""workflows/aws/cycle.asl.json on moto's Step Functions engine, for the tests that run it there.

Without Docker, moto's Lambda does not run a function: each invocation answers the next result queued
through `/moto-api/static/lambda-simple/response` (moto's "lambda-simple" backend, chosen by `ENGINE`'s
`lambda.use_docker = false`). So a test deploys the definition as Terraform renders it
(`deploy_cycle`), queues what the stages would answer (`queue_answers`), runs an execution
(`execute`) and reads its history: the states entered (`states_entered`) and what each Lambda was
invoked with (`lambda_invocations`)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from coinswarm.config.deploy import deployed_name
from servers.moto import REGION, aws_client, moto_api
from templatefile import WORKFLOWS, render

ENGINE = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
"""moto's configuration for these tests (`servers.moto.moto_config(endpoint, **ENGINE)`)."""
ACCOUNT = "123456789012"
DEADLINE_S = 20.0
_EMPTY_ZIP = b"PK\x05\x06" + b"\x00" * 18  # never run: moto answers from its queue


def deploy_cycle(
    endpoint: str, functions: list[str], run: str, dead_letter_queue_url: str
) -> tuple[dict[str, str], str]:
    """A role, the functions (named `coinswarm-<function>-<run>`) and the state machine of the cycle's
    definition rendered with their ARNs and the dead-letter queue: (the ARNs by template variable
    `<function>_arn`, the state machine's ARN)."""
    iam, lam, sfn = (aws_client(service, endpoint) for service in ("iam", "lambda", "stepfunctions"))
    try:
        role = iam.create_role(
            RoleName=f"coinswarm-cycle-{run}",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        arns = {
            f"{function}_arn": lam.create_function(
                FunctionName=f"{deployed_name(function)}-{run}",
                Runtime="python3.12",
                Role=role,
                Handler=f"functions.{function}.aws.handler",
                Code={"ZipFile": _EMPTY_ZIP},
                Architectures=["arm64"],
            )["FunctionArn"]
            for function in functions
        }
        definition = render(
            (WORKFLOWS / "aws" / "cycle.asl.json").read_text(), {**arns, "dead_letter_queue_url": dead_letter_queue_url}
        )
        machine = sfn.create_state_machine(name=f"coinswarm-cycle-{run}", definition=definition, roleArn=role)
        return arns, machine["stateMachineArn"]
    finally:
        for client in (iam, lam, sfn):
            client.close()


def queue_answers(endpoint: str, *answers: Any) -> None:
    """What the next Lambda invocations answer, in order (a string as it is, anything else as JSON)."""
    results = [a if isinstance(a, str) else json.dumps(a) for a in answers]
    moto_api(
        endpoint,
        "/moto-api/static/lambda-simple/response",
        {"results": results, "region": REGION, "account_id": ACCOUNT},
    )


def execute(sfn: Any, machine_arn: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start an execution with `{}` and wait (a bounded poll) until it ends: its description, its history."""
    execution = sfn.start_execution(stateMachineArn=machine_arn, name=uuid.uuid4().hex, input="{}")["executionArn"]
    deadline = time.monotonic() + DEADLINE_S
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"the execution still runs after {DEADLINE_S:.0f} s"
        time.sleep(0.05)  # the bounded poll for the engine's thread
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return described, events


def states_entered(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def lambda_invocations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parameters of each Lambda invocation, in order."""
    scheduled = [e["taskScheduledEventDetails"] for e in events if e["type"] == "TaskScheduled"]
    return [json.loads(s["parameters"]) for s in scheduled if s["resourceType"] == "lambda"]
