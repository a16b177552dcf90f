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
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from coinswarm.config.deploy import FUNCTIONS
from moto_step_functions import ENGINE, deploy_cycle, execute, lambda_invocations, queue_answers, states_entered
from servers.moto import aws_client, moto_config

CYCLE = [f for f in FUNCTIONS if f != "manual_trade"]
APPROVE_PATH = ["Ingest", "Score", "Vote", "Confident", "Place", "Log"]
REJECT_PATH = ["Ingest", "Score", "Vote", "Confident", "DecisionStored"]


@pytest.fixture(scope="module")
def engine(moto_server: str) -> Iterator[str]:
    """The moto server with state machines executed and Lambda answered from a queue; put back after."""
    with moto_config(moto_server, **ENGINE):
        yield moto_server


@pytest.fixture(scope="module")
def deployed(engine: str) -> dict[str, Any]:
    """The functions, the dead-letter queue and the state machine, as Terraform would create them."""
    run = uuid.uuid4().hex[:8]
    sqs = aws_client("sqs", engine)
    dlq = sqs.create_queue(QueueName=f"coinswarm-cycle-dlq-{run}")["QueueUrl"]
    arns, machine = deploy_cycle(engine, CYCLE, run, dlq)
    return {"arns": arns, "dlq": dlq, "machine": machine, "sfn": aws_client("stepfunctions", engine), "sqs": sqs}


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
    queue_answers(engine, *results)
    described, events = execute(deployed["sfn"], deployed["machine"])
    assert described["status"] == "SUCCEEDED", described
    assert states_entered(events) == APPROVE_PATH
    invoked = lambda_invocations(events)
    assert [i["FunctionName"] for i in invoked] == [deployed["arns"][f"{f}_arn"] for f in CYCLE]
    # each stage gets what the one before it handed on
    for before, call in zip(results, invoked[1:], strict=False):
        assert call["Payload"]["messages"] == before["messages"]
    assert invoked[0]["Payload"]["workflow"] is True and "time" in invoked[0]["Payload"]
    assert json.loads(described["output"])["log"]["messages"] == results[-1]["messages"]


def test_a_vote_below_the_threshold_ends_with_the_decision_stored(engine: str, deployed: dict[str, Any]) -> None:
    results = _stage_results(confidence=0.55)[:3]
    queue_answers(engine, *results)
    described, events = execute(deployed["sfn"], deployed["machine"])
    assert described["status"] == "SUCCEEDED", described
    assert states_entered(events) == REJECT_PATH
    assert [i["FunctionName"] for i in lambda_invocations(events)] == [deployed["arns"][f"{f}_arn"] for f in CYCLE[:3]]
    assert "place" not in json.loads(described["output"])


def test_a_failed_stage_goes_to_the_dead_letter_queue_and_fails_the_execution(
    engine: str, deployed: dict[str, Any]
) -> None:
    # moto reports a function error (Function.ResponseSizeTooLarge) for an answer over 6 MB: a stage
    # failure that is not transient, so no retry, straight to the catch
    results = _stage_results(confidence=0.9)
    queue_answers(engine, results[0], results[1], "x" * 6_100_000)
    described, events = execute(deployed["sfn"], deployed["machine"])
    assert described["status"] == "FAILED", described
    assert states_entered(events) == ["Ingest", "Score", "Vote", "DeadLetter", "CycleFailed"]
    assert len(lambda_invocations(events)) == 3, "a function error that is not transient is not retried"
    sqs = deployed["sqs"]
    received = sqs.receive_message(QueueUrl=deployed["dlq"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    bodies = [json.loads(m["Body"]) for m in received.get("Messages", [])]
    assert [b["execution"] for b in bodies] == [described["executionArn"]]
    cycle = bodies[0]["cycle"]
    assert cycle["score"]["messages"] == results[1]["messages"]  # the cycle so far, to replay it
    assert cycle["error"]["Error"] == "Function.ResponseSizeTooLarge"
