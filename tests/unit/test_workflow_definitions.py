"""The workflow definitions' structure, both clouds alike: the cycle's stages in order, the choice on
confidence, retries on transient errors and a catch to the dead letter; every function a definition
calls is one Terraform creates (`deployed_name`: coinswarm-<function with - for _>).
(tests/integration/test_step_functions_cycle.py executes the AWS one.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from coinswarm.config.deploy import FUNCTIONS, deployed_name
from templatefile import WORKFLOWS, placeholders, render

CYCLE = [f for f in FUNCTIONS if f != "manual_trade"]
TERRAFORM_NAMES = {deployed_name(f) for f in FUNCTIONS}
ASL_TASKS = {"Ingest": "tick_ingest", "Score": "agent_scoring", "Vote": "committee_vote"}
ASL_TASKS |= {"Place": "order_placement", "Log": "trade_logging"}
GCP_STEPS = {"ingest": "tick_ingest", "score": "agent_scoring", "vote": "committee_vote"}
GCP_STEPS |= {"place": "order_placement", "log": "trade_logging"}
DEAD_LETTER_TOPIC = "projects/demo/topics/coinswarm-cycle-dead-letter"


def _gcp() -> dict[str, Any]:
    text = (WORKFLOWS / "gcp" / "cycle.yaml").read_text()
    urls = {f"{f}_url": f"https://us-central1-demo.cloudfunctions.net/{deployed_name(f)}" for f in CYCLE}
    rendered: dict[str, Any] = yaml.safe_load(render(text, {**urls, "dead_letter_topic": DEAD_LETTER_TOPIC}))
    return rendered


def _asl() -> dict[str, Any]:
    text = (WORKFLOWS / "aws" / "cycle.asl.json").read_text()
    arns = {f"{f}_arn": f"arn:aws:lambda:us-east-1:123456789012:function:{deployed_name(f)}" for f in CYCLE}
    rendered: dict[str, Any] = json.loads(render(text, {**arns, "dead_letter_queue_url": "https://sqs/dlq"}))
    return rendered


def _steps(workflow: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    return {k: v for step in workflow[name]["steps"] for k, v in step.items()}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("aws/cycle.asl.json", {*(f"{f}_arn" for f in CYCLE), "dead_letter_queue_url"}),
        ("gcp/cycle.yaml", {*(f"{f}_url" for f in CYCLE), "dead_letter_topic"}),
    ],
)
def test_terraform_fills_exactly_these_placeholders(path: str, expected: set[str]) -> None:
    assert placeholders((WORKFLOWS / path).read_text()) == expected


def test_gcp_calls_the_cycle_functions_terraform_creates_in_order() -> None:
    main = _gcp()["main"]["steps"]
    calls = [(name, body) for step in main for name, body in step.items() if body.get("call") == "run_stage"]
    assert [name for name, _ in calls] == list(GCP_STEPS)
    for name, body in calls:
        function = body["args"]["url"].rsplit("/", 1)[1]
        assert function in TERRAFORM_NAMES, f"step {name} calls {function}, which Terraform does not create"
        assert function == deployed_name(GCP_STEPS[name])
    # each stage is handed what the stage before it returned
    results = [body["result"] for _, body in calls]
    for (_, body), before in zip(calls[1:], results, strict=False):
        assert body["args"]["body"]["messages"] == f"${{{before}.messages}}"


def test_gcp_chooses_on_the_committees_confidence() -> None:
    steps = _steps(_gcp(), "main")
    choice = steps["confident"]
    assert choice["switch"] == [{"condition": "${vote.confidence >= vote.threshold}", "next": "place"}]
    assert choice["next"] == "decision_stored"
    assert "return" in steps["decision_stored"], "the reject path ends once the decision is stored"
    order = [next(iter(s)) for s in _gcp()["main"]["steps"]]
    assert order.index("place") > order.index("decision_stored") and order[-1] == "done"


def test_gcp_retries_transient_errors_and_dead_letters_the_rest() -> None:
    workflow = _gcp()
    stage = _steps(workflow, "run_stage")["call_stage"]
    assert stage["try"]["call"] == "http.post" and stage["try"]["args"]["auth"] == {"type": "OIDC"}
    retry = stage["retry"]
    assert retry["predicate"] == "${transient}" and retry["max_retries"] >= 1 and retry["backoff"]["multiplier"] > 1
    handler = {k: v for step in stage["except"]["steps"] for k, v in step.items()}
    assert list(handler) == ["dead_letter", "give_up"]
    assert handler["dead_letter"]["call"] == "googleapis.pubsub.v1.projects.topics.publish"
    assert handler["dead_letter"]["args"]["topic"] == DEAD_LETTER_TOPIC
    assert handler["give_up"]["raise"] == "${e}"
    transient = _steps(workflow, "transient")["by_code"]["switch"]
    assert "429, 500, 502, 503, 504" in transient[0]["condition"]


def test_aws_has_the_same_steps_choice_and_retries() -> None:
    states = _asl()["States"]
    order, name = [], _asl()["StartAt"]
    while name in ASL_TASKS:
        order.append(name)
        name = states[name].get("Next", "")
        if states.get(name, {}).get("Type") == "Choice":
            choice = states[name]
            assert choice["Choices"] == [
                {"Variable": "$.vote.confidence", "NumericGreaterThanEqualsPath": "$.vote.threshold", "Next": "Place"}
            ]
            assert states[choice["Default"]]["Type"] == "Succeed"
            name = "Place"
    assert order == list(ASL_TASKS)
    assert states["Log"].get("End") is True
    for state, function in ASL_TASKS.items():
        task = states[state]
        assert task["Parameters"]["FunctionName"].endswith(f":function:{deployed_name(function)}")
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException", "TransientStoreError"} <= retried
        assert "States.ALL" not in retried, "only transient errors are retried"
        assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DeadLetter"}]
    assert states["DeadLetter"]["Resource"] == "arn:aws:states:::sqs:sendMessage"
    assert states[states["DeadLetter"]["Next"]]["Type"] == "Fail"


def test_both_clouds_run_the_same_stages() -> None:
    assert list(ASL_TASKS.values()) == list(GCP_STEPS.values()) == CYCLE
