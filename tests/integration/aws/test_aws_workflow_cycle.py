"""The cycle under `deploy.chain = "workflow"` on AWS: the real handlers of the five cycle functions,
chained exactly as workflows/aws/cycle.asl.json chains them (`asl_runner`: each handler is invoked with
the payload the state machine builds from the previous handler's answer, by the definition's own
Parameters, ResultSelector, ResultPath and Choice), on the moto-backed stores of the queue cycle's test.
The approved cycle's real answers are then fed to moto's Step Functions engine running the definition,
which must invoke the functions with the very payloads the runner built (tests/integration/
test_step_functions_cycle.py runs the definition there with canned answers)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from asl_runner import StateMachine
from aws_helpers import SYMBOLS, TF, LambdaContext, Mesh

from coinswarm.config.deploy import deployed_name
from coinswarm.domain.models import FillRecorded
from coinswarm.errors import ClaimInProgressError
from coinswarm.stages.messages import CandlesReady, DecisionReady, ScoresReady, decode
from functions.agent_scoring import aws as agent_scoring
from functions.committee_vote import aws as committee_vote
from functions.order_placement import aws as order_placement
from functions.tick_ingest import aws as tick_ingest
from functions.trade_logging import aws as trade_logging
from functions.workflow_step import BadWorkflowPayloadError
from moto_step_functions import (
    ACCOUNT,
    ENGINE,
    deploy_cycle,
    execute,
    lambda_invocations,
    queue_answers,
    states_entered,
)
from servers.moto import aws_client, moto_config
from templatefile import WORKFLOWS, render

HANDLERS = {
    "tick_ingest": tick_ingest.handler,
    "agent_scoring": agent_scoring.handler,
    "committee_vote": committee_vote.handler,
    "order_placement": order_placement.handler,
    "trade_logging": trade_logging.handler,
}
APPROVE_PATH = ["Ingest", "Score", "Vote", "Confident", "Place", "Log"]
REJECT_PATH = ["Ingest", "Score", "Vote", "Confident", "DecisionStored"]
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def machine(handlers: dict[str, Any] | None = None) -> StateMachine:
    arns = {f"{f}_arn": ARN.format(deployed_name(f)) for f in HANDLERS}
    text = render(
        (WORKFLOWS / "aws" / "cycle.asl.json").read_text(),
        {**arns, "dead_letter_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/coinswarm-cycle-dlq"},
    )
    handlers = {**HANDLERS, **(handlers or {})}
    return StateMachine(json.loads(text), {arns[f"{f}_arn"]: h for f, h in handlers.items()})


def start_time(ts: int) -> str:
    """`$$.Execution.StartTime` as Step Functions writes it: a few seconds after the candle closed."""
    return datetime.fromtimestamp(ts + 3.25, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def execute_on_moto(endpoint: str, answers: list[Any]) -> dict[str, Any]:
    """cycle.asl.json on moto's Step Functions engine, each Lambda answering the next of `answers`; the
    states entered and the payload of each invocation."""
    run = uuid.uuid4().hex[:8]
    with moto_config(endpoint, **ENGINE):
        _, machine = deploy_cycle(endpoint, list(HANDLERS), run, f"{endpoint}/{ACCOUNT}/coinswarm-cycle-dlq-{run}")
        queue_answers(endpoint, *answers)
        sfn = aws_client("stepfunctions", endpoint)
        try:
            described, events = execute(sfn, machine)
        finally:
            sfn.close()
    assert described["status"] == "SUCCEEDED", described
    return {"path": states_entered(events), "payloads": [i["Payload"] for i in lambda_invocations(events)]}


def workflow_mesh(make_mesh: Any, **sections: dict[str, Any]) -> Mesh:
    mesh: Mesh = make_mesh(deploy={"chain": "workflow"}, **sections)
    return mesh


def assert_nothing_published(mesh: Mesh) -> None:
    for topic in mesh.urls:
        assert mesh.depth(topic) == 0 and mesh.depth(topic, dlq=True) == 0, topic


def test_a_confident_cycle_places_and_logs_through_the_state_machine(make_mesh: Any) -> None:
    mesh = workflow_mesh(make_mesh)
    sfn = machine()
    paths: list[list[str]] = []
    fills: list[FillRecorded] = []
    for ts in range(mesh.now - 12 * TF, mesh.now + 1, TF):
        run = sfn.start(start_time(ts), LambdaContext())
        assert run.status == "SUCCEEDED", run
        paths.append(run.path)
        ingest, score, vote = (answer for _, _, answer in run.invocations[:3])
        # one message per symbol at every hop, each stage fed the one before it's answer
        candles = [decode(CandlesReady, json.dumps(m)) for m in ingest["messages"]]
        assert sorted(c.symbol for c in candles) == sorted(SYMBOLS)
        assert {c.cycle_id for c in candles} == {f"cycle-{ts}"}
        assert [decode(ScoresReady, json.dumps(m)).symbol for m in score["messages"]] == [c.symbol for c in candles]
        decisions = [decode(DecisionReady, json.dumps(m)) for m in vote["messages"]]
        assert len(decisions) == len(SYMBOLS)
        assert vote["threshold"] == mesh.settings.committee.threshold == 0.45
        highest = max(step.confidence for d in decisions for step in d.steps)
        assert vote["confidence"] >= highest
        if run.path == APPROVE_PATH:
            assert vote["confidence"] >= vote["threshold"]
            placed = run.invocations[3][2]["messages"]
            assert run.invocations[4][1]["messages"] == placed  # Log gets what Place answered
            assert run.output["log"]["messages"] == run.invocations[4][2]["messages"]
        else:
            assert run.path == REJECT_PATH and vote["confidence"] < vote["threshold"]
            assert len(run.invocations) == 3
        fills = [e.payload for e in mesh.app.ledger.events() if isinstance(e.payload, FillRecorded)]
        if fills:
            break
    assert APPROVE_PATH in paths, f"no confident cycle in {len(paths)}"
    assert fills, f"no order filled in {len(paths)} cycles: {paths}"
    assert mesh.broker.submitted, "an approved cycle placed an order"
    assert [f.fill.client_order_id for f in fills] == mesh.broker.submitted[: len(fills)]
    assert mesh.app.ledger.verify().ok  # what `coinswarm ledger verify` checks
    assert mesh.app.ledger.portfolio().seq == len(mesh.app.ledger.events())
    assert_nothing_published(mesh)  # the state machine hands the messages on, not the queues

    approved = run  # (the last cycle: the one that filled)

    # the same cycle again (a second execution, a redrive): every stage's outbox answers with what it
    # answered the first time, body for body, so the execution takes the same path and nothing is placed
    # twice (a lost answer of the first execution is not a lost cycle)
    submitted, events = list(mesh.broker.submitted), len(mesh.app.ledger.events())
    again = sfn.start(start_time(ts), LambdaContext())
    assert again.status == "SUCCEEDED" and again.path == run.path
    assert again.output["ingest"]["messages"] == run.output["ingest"]["messages"]
    assert again.output["vote"]["confidence"] == run.output["vote"]["confidence"]
    assert mesh.broker.submitted == submitted and len(mesh.app.ledger.events()) == events
    assert mesh.app.ledger.verify().ok

    # the runner chains as Step Functions does: moto's engine, answered with the handlers' real answers
    # of the last cycle, invokes each function with the very payloads the handlers were given
    assert approved.path == APPROVE_PATH  # fills come from placement, which only the approve path runs
    on_moto = execute_on_moto(mesh.endpoint, [answer for _, _, answer in approved.invocations])
    assert on_moto["path"] == APPROVE_PATH
    fed = [payload for _, payload, _ in approved.invocations]
    assert on_moto["payloads"][1:] == fed[1:]  # Ingest's differs only by the execution's start time
    assert set(on_moto["payloads"][0]) == set(fed[0]) == {"workflow", "time"}


def test_a_cycle_below_the_threshold_stores_its_decisions_and_places_nothing(make_mesh: Any) -> None:
    mesh = workflow_mesh(make_mesh, committee={"threshold": 1.0, "quorum": 2})
    sfn = machine()
    for ts in range(mesh.now - 3 * TF, mesh.now + 1, TF):
        run = sfn.start(start_time(ts), LambdaContext())
        assert run.status == "SUCCEEDED", run
        assert run.path == REJECT_PATH
        vote = run.output["vote"]
        assert vote["threshold"] == 1.0 and vote["confidence"] < 1.0
        assert "place" not in run.output
        stored = mesh.app.history.recent_decisions(10)
        assert {d.cycle_id for d in stored} >= {f"cycle-{ts}"}  # committee_vote stored the cycle's decisions
    assert mesh.broker.submitted == []
    assert_nothing_published(mesh)


def test_a_claim_in_progress_is_retried_by_name_and_a_bad_payload_goes_to_the_dead_letter(make_mesh: Any) -> None:
    mesh = workflow_mesh(make_mesh)

    def garbled(event: Any, context: Any) -> Any:
        event["messages"][0]["candles"] = "not candles"
        return agent_scoring.handler(event, context)

    run = machine({"agent_scoring": garbled}).start(start_time(mesh.now - TF), LambdaContext())
    assert run.status == "FAILED" and run.path[-2:] == ["DeadLetter", "CycleFailed"]
    (letter,) = run.dead_letters
    assert letter["cycle"]["error"]["Error"] == "BadWorkflowPayloadError"
    assert "messages[0] is not a valid CandlesReady" in letter["cycle"]["error"]["Cause"]
    assert letter["cycle"]["ingest"]["messages"], "the cycle so far, to replay it"

    refusals = [0]

    def busy_once(event: Any, context: Any) -> Any:
        if refusals[0] == 0:
            refusals[0] += 1
            raise ClaimInProgressError("scores:cycle-0:BTC-USD", 40)
        return agent_scoring.handler(event, context)

    run = machine({"agent_scoring": busy_once}).start(start_time(mesh.now), LambdaContext())
    assert run.status == "SUCCEEDED" and refusals == [1]
    assert run.output["score"]["messages"] and run.output["vote"]["messages"]  # the retry ran the stage


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ({"workflow": True}, "missing: messages"),
        ({"workflow": True, "messages": [], "extra": 1}, "unknown: extra"),
        ({"workflow": True, "messages": {"a": 1}}, "must be a list"),
        ({"workflow": True, "messages": ["text"]}, "messages[0] must be a CandlesReady"),
        ({"workflow": "yes", "messages": []}, '"workflow": true'),
    ],
)
def test_a_stage_refuses_a_payload_that_is_not_the_contract(make_mesh: Any, event: Any, says: str) -> None:
    workflow_mesh(make_mesh)
    with pytest.raises(BadWorkflowPayloadError) as refused:
        agent_scoring.handler(event, LambdaContext())
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ({"workflow": True}, "missing: time"),
        ({"workflow": True, "time": "yesterday"}, "not an RFC 3339 timestamp"),
        ({"workflow": True, "time": "2026-06-10T12:00:00"}, "has no offset"),
        ({"workflow": True, "time": 1718000000}, "must be an RFC 3339 timestamp string"),
    ],
)
def test_tick_ingest_refuses_a_payload_that_is_not_the_contract(make_mesh: Any, event: Any, says: str) -> None:
    workflow_mesh(make_mesh)
    with pytest.raises(BadWorkflowPayloadError) as refused:
        tick_ingest.handler(event, LambdaContext())
    assert says in str(refused.value)
