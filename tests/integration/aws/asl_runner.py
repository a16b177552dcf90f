"""The states workflows/aws/cycle.asl.json uses, run as Step Functions runs them, with the real Lambda
handlers in the functions' place: for tests that chain the handlers exactly as the state machine does.

What is followed from the definition, never restated here: each Task's `Parameters` (keys ending in
`.$` read a path of the state's input, or `$$.` of the execution's context), the Lambda task's answer
`{"Payload": <the handler's answer>, "StatusCode": 200}`, its `ResultSelector` and `ResultPath`, `Retry`
and `Catch` matched by the error's name (as Lambda names it: the exception's class), a Choice's rules,
`Next`, `End`, Succeed and Fail. The payload and the answer cross JSON, as they do on AWS, and each
state's data must stay within Step Functions' 256 KiB. Retries run at once (the test does not wait for
the intervals). Anything else in a definition raises NotImplementedError, so a definition that grows a
construct this does not know fails the test rather than being run wrongly.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_STATE_BYTES = 262_144  # Step Functions' limit on a state's input or output (256 KiB)
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SQS_SEND = "arn:aws:states:::sqs:sendMessage"


@dataclass
class Execution:
    status: str = "RUNNING"  # SUCCEEDED or FAILED
    path: list[str] = field(default_factory=list)  # the states entered, in order
    output: Any = None
    invocations: list[tuple[str, Any, Any]] = field(default_factory=list)  # (function, payload, answer)
    dead_letters: list[Any] = field(default_factory=list)  # the bodies sent to the dead-letter queue
    error: str | None = None


def read_path(path: str, data: Any, context: Mapping[str, Any]) -> Any:
    if path.startswith("$$."):
        data, path = context, path[1:]
    if path == "$":
        return data
    if not path.startswith("$."):
        raise NotImplementedError(f"path {path!r}")
    for part in path[2:].split("."):
        if not isinstance(data, dict) or part not in data:
            raise KeyError(f"States.Runtime: {path} is not in the data")
        data = data[part]
    return data


def build(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    """Parameters / ResultSelector / MessageBody: `.$` keys read paths, the rest is literal."""
    if isinstance(template, dict):
        built = {}
        for key, value in template.items():
            if key.endswith(".$"):
                built[key[:-2]] = copy.deepcopy(read_path(value, data, context))
            else:
                built[key] = build(value, data, context)
        return built
    return copy.deepcopy(template)


def put_result(state: Mapping[str, Any], data: Any, result: Any) -> Any:
    if "ResultPath" not in state:
        return result
    where = state["ResultPath"]
    if where is None:
        return data
    if where == "$":
        return result
    parts = where.removeprefix("$.").split(".")
    merged = copy.deepcopy(data)
    node = merged
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = result
    return merged


def _matches(equals: list[str], error: str) -> bool:
    return "States.ALL" in equals or error in equals


def _choose(state: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> str:
    for rule in state["Choices"]:
        left = read_path(rule["Variable"], data, context)
        if "NumericGreaterThanEqualsPath" in rule:
            right = read_path(rule["NumericGreaterThanEqualsPath"], data, context)
        elif "NumericGreaterThanEquals" in rule:
            right = rule["NumericGreaterThanEquals"]
        else:
            raise NotImplementedError(f"choice rule {sorted(rule)}")
        if not isinstance(left, int | float) or not isinstance(right, int | float):
            raise TypeError(f"States.Runtime: a numeric comparison of {left!r} and {right!r}")
        if left >= right:
            return str(rule["Next"])
    return str(state["Default"])


class StateMachine:
    def __init__(self, definition: Mapping[str, Any], functions: Mapping[str, Callable[[Any, Any], Any]]) -> None:
        """`functions`: the handler of each FunctionName the definition names (its rendered ARN)."""
        self.definition = definition
        self.functions = functions

    def start(self, start_time: str, context: Any, execution_input: Any = None) -> Execution:
        run = Execution()
        ctx = {
            "Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:cycle:test", "StartTime": start_time}
        }
        data: Any = {} if execution_input is None else execution_input
        name: str | None = self.definition["StartAt"]
        while name is not None:
            state = self.definition["States"][name]
            run.path.append(name)
            kind = state["Type"]
            if kind == "Choice":
                name = _choose(state, data, ctx)
                continue
            if kind == "Succeed":
                run.status, run.output = "SUCCEEDED", data
                return run
            if kind == "Fail":
                run.status, run.error, run.output = "FAILED", state["Error"], None
                return run
            if kind != "Task":
                raise NotImplementedError(f"state type {kind}")
            try:
                result = self._task(state, data, ctx, context, run)
            except _TaskFailed as failed:
                catch = next((c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], failed.error)), None)
                if catch is None:
                    run.status, run.error = "FAILED", failed.error
                    return run
                data = put_result(catch, data, {"Error": failed.error, "Cause": failed.cause})
                name = catch["Next"]
                continue
            if "ResultSelector" in state:
                result = build(state["ResultSelector"], result, ctx)
            data = put_result(state, data, result)
            assert len(json.dumps(data)) <= MAX_STATE_BYTES, f"{name}: the state's output passes 256 KiB"
            if state.get("End"):
                run.status, run.output = "SUCCEEDED", data
                return run
            name = state["Next"]
        raise AssertionError("unreachable")

    def _task(self, state: Mapping[str, Any], data: Any, ctx: Mapping[str, Any], context: Any, run: Execution) -> Any:
        parameters = build(state["Parameters"], data, ctx)
        if state["Resource"] == SQS_SEND:
            run.dead_letters.append(parameters["MessageBody"])
            return {}
        if state["Resource"] != LAMBDA_INVOKE:
            raise NotImplementedError(f"resource {state['Resource']}")
        handler = self.functions[parameters["FunctionName"]]
        attempts: dict[int, int] = {}
        while True:
            payload = json.loads(json.dumps(parameters["Payload"]))  # what Lambda hands the handler
            try:
                answer = json.loads(json.dumps(handler(payload, context)))
            except Exception as exc:  # Lambda's errorType: the exception's class name
                error = type(exc).__name__
                retry = next(
                    (i for i, r in enumerate(state.get("Retry", [])) if _matches(r["ErrorEquals"], error)), None
                )
                if retry is not None and attempts.get(retry, 0) < state["Retry"][retry].get("MaxAttempts", 3):
                    attempts[retry] = attempts.get(retry, 0) + 1
                    continue
                raise _TaskFailed(error, str(exc)) from exc
            run.invocations.append((parameters["FunctionName"], payload, answer))
            return {"Payload": answer, "StatusCode": 200}


class _TaskFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(error)
        self.error, self.cause = error, cause
