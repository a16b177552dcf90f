"""workflows/aws/cycle.asl.json executed by moto's Step Functions engine (the session's moto server).

Rendered as Terraform renders it (the Lambda ARNs of the functions named `coinswarm-<function>` and the
dead-letter queue's URL), created as a state machine and started. Without Docker, moto's Lambda does
not run the function: each invocation answers the next result queued through
`/moto-api/static/lambda-simple/response` (moto's "lambda-simple" backend, chosen with the server's
`lambda.use_docker = false`), so each test queues what the stages would return and reads the
execution's history to see which states ran, in which order, with what input.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from coinswarm.config.deploy import FUNCTIONS, deployed_name
from servers.moto import REGION, aws_client
from templatefile import WORKFLOWS, render

CYCLE = [f for f in FUNCTIONS if f != "manual_trade"]
APPROVE_PATH = ["Ingest", "Score", "Vote", "Confident", "Place", "Log"]
REJECT_PATH = ["Ingest", "Score", "Vote", "Confident", "DecisionStored"]
DEADLINE_S = 20.0


def _moto_api(endpoint: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        endpoint + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def engine(moto_server: str) -> Iterator[str]:
    """The moto server with state machines executed and Lambda answered from a queue; put back after."""
    before = _moto_api(moto_server, "/moto-api/config")
    _moto_api(
        moto_server,
        "/moto-api/config",
        {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
    )
    try:
        yield moto_server
    finally:
        _moto_api(
            moto_server,
            "/moto-api/config",
            {"stepfunctions": {"execute_state_machine": False}, "lambda": before["lambda"]},
        )


@pytest.fixture(scope="module")
def deployed(engine: str) -> dict[str, Any]:
    """The functions, the dead-letter queue and the state machine, as Terraform would create them."""
    run = uuid.uuid4().hex[:8]
    iam = aws_client("iam", engine)
    role = iam.create_role(
        RoleName=f"coinswarm-cycle-{run}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    lam = aws_client("lambda", engine)
    arns = {}
    for function in CYCLE:
        arns[f"{function}_arn"] = lam.create_function(
            FunctionName=f"{deployed_name(function)}-{run}",
            Runtime="python3.12",
            Role=role,
            Handler=f"functions.{function}.aws.handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},  # never run: moto answers from its queue
            Architectures=["arm64"],
        )["FunctionArn"]
    sqs = aws_client("sqs", engine)
    dlq = sqs.create_queue(QueueName=f"coinswarm-cycle-dlq-{run}")["QueueUrl"]
    definition = render((WORKFLOWS / "aws" / "cycle.asl.json").read_text(), {**arns, "dead_letter_queue_url": dlq})
    sfn = aws_client("stepfunctions", engine)
    machine = sfn.create_state_machine(name=f"coinswarm-cycle-{run}", definition=definition, roleArn=role)
    return {"arns": arns, "dlq": dlq, "machine": machine["stateMachineArn"], "sfn": sfn, "sqs": sqs}


def _queue_results(endpoint: str, *results: dict[str, Any] | str) -> None:
    payloads = [r if isinstance(r, str) else json.dumps(r) for r in results]
    _moto_api(
        endpoint,
        "/moto-api/static/lambda-simple/response",
        {"results": payloads, "region": REGION, "account_id": "123456789012"},
    )


def _run(deployed: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sfn = deployed["sfn"]
    execution = sfn.start_execution(stateMachineArn=deployed["machine"], name=uuid.uuid4().hex, input="{}")[
        "executionArn"
    ]
    deadline = time.monotonic() + DEADLINE_S
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"the execution still runs after {DEADLINE_S:.0f} s"
        time.sleep(0.05)  # the bounded poll for the engine's thread
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return described, events


def _path(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def _invocations(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parameters of each Lambda invocation, in order."""
    scheduled = [e["taskScheduledEventDetails"] for e in events if e["type"] == "TaskScheduled"]
    return [json.loads(s["parameters"]) for s in scheduled if s["resourceType"] == "lambda"]


def _stage_results(confidence: float, threshold: float = 0.8) -> list[dict[str, Any]]:
    return [
        {"messages": [{"kind": "CandlesReady", "symbol": "BTC-USD"}]},
        {"messages": [{"kind": "ScoresReady", "symbol": "BTC-USD"}]},
        {
            "messages": [{"kind": "DecisionReady", "symbol": "BTC-USD"}],
            "confidence": confidence,
            "threshold": threshold,
        },
        {"messages": [{"kind": "PlacementDone", "symbol": "BTC-USD"}]},
        {"messages": [{"kind": "Logged", "symbol": "BTC-USD"}]},
    ]


def test_a_confident_vote_places_then_logs(engine: str, deployed: dict[str, Any]) -> None:
    results = _stage_results(confidence=0.85)
    _queue_results(engine, *results)
    described, events = _run(deployed)
    assert described["status"] == "SUCCEEDED", described
    assert _path(events) == APPROVE_PATH
    invoked = _invocations(events)
    assert [i["FunctionName"] for i in invoked] == [deployed["arns"][f"{f}_arn"] for f in CYCLE]
    # each stage gets what the one before it handed on
    for before, call in zip(results, invoked[1:], strict=False):
        assert call["Payload"]["messages"] == before["messages"]
    assert invoked[0]["Payload"]["workflow"] is True and "time" in invoked[0]["Payload"]
    assert json.loads(described["output"])["log"]["messages"] == results[-1]["messages"]


def test_a_vote_below_the_threshold_ends_with_the_decision_stored(engine: str, deployed: dict[str, Any]) -> None:
    results = _stage_results(confidence=0.55)[:3]
    _queue_results(engine, *results)
    described, events = _run(deployed)
    assert described["status"] == "SUCCEEDED", described
    assert _path(events) == REJECT_PATH
    assert [i["FunctionName"] for i in _invocations(events)] == [deployed["arns"][f"{f}_arn"] for f in CYCLE[:3]]
    assert "place" not in json.loads(described["output"])


def test_a_failed_stage_goes_to_the_dead_letter_queue_and_fails_the_execution(
    engine: str, deployed: dict[str, Any]
) -> None:
    # moto reports a function error (Function.ResponseSizeTooLarge) for an answer over 6 MB: a stage
    # failure that is not transient, so no retry, straight to the catch
    results = _stage_results(confidence=0.9)
    _queue_results(engine, results[0], results[1], "x" * 6_100_000)
    described, events = _run(deployed)
    assert described["status"] == "FAILED", described
    assert _path(events) == ["Ingest", "Score", "Vote", "DeadLetter", "CycleFailed"]
    assert len(_invocations(events)) == 3, "a function error that is not transient is not retried"
    sqs = deployed["sqs"]
    received = sqs.receive_message(QueueUrl=deployed["dlq"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    bodies = [json.loads(m["Body"]) for m in received.get("Messages", [])]
    assert [b["execution"] for b in bodies] == [described["executionArn"]]
    cycle = bodies[0]["cycle"]
    assert cycle["score"]["messages"] == results[1]["messages"]  # the cycle so far, to replay it
    assert cycle["error"]["Error"] == "Function.ResponseSizeTooLarge"
