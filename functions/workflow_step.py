"""What a stage function is asked and answers when a workflow runs the cycle (`deploy.chain = "workflow"`:
workflows/aws/cycle.asl.json on Step Functions, workflows/gcp/cycle.yaml on GCP Workflows; the contract is
in workflows/README.md). Cloud-agnostic: `functions/aws_common.py` and `functions/gcp_common.py` use it.

* Asked: `{"workflow": true, "messages": [...]}`, each message the stage's kind as every bus encodes it
  (`coinswarm.stages.messages.encode`, as a JSON object); tick_ingest is asked
  `{"workflow": true, "time": "<RFC 3339>"}`, the execution's start.
* Answers: `{"messages": [...]}`, what the stage would have published on its queue (one per symbol),
  encoded the same way and published nowhere: the workflow hands them to the next stage. committee_vote
  also answers `confidence`, the highest among the cycle's decisions (0 without any), and `threshold`,
  the configured `committee.threshold`, which the workflow's choice compares: the threshold has one
  source, the configuration.

A payload that is not this raises `BadWorkflowPayloadError` (a ValueError) saying what is wrong without
quoting the payload: no retry can fix it, and the workflow sends the cycle to its dead letter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from coinswarm.domain.models import Action
from coinswarm.errors import CoinswarmError
from coinswarm.stages.messages import DecisionReady, Message, ScoresReady, decode, encode, problems

WORKFLOW_FIELD = "workflow"
MESSAGE_FIELDS = frozenset({WORKFLOW_FIELD, "messages"})
TICK_FIELDS = frozenset({WORKFLOW_FIELD, "time"})

K = TypeVar("K")


class BadWorkflowPayloadError(CoinswarmError, ValueError):
    """The workflow's payload is not the contract's; the text says what is wrong (never the payload)."""


def is_workflow(event: object) -> bool:
    """Whether an event (a Lambda payload, a POSTed JSON body) is a workflow's call of a stage."""
    return isinstance(event, dict) and WORKFLOW_FIELD in event


def _checked(event: object, fields: frozenset[str]) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise BadWorkflowPayloadError(f"the workflow's payload must be a JSON object, not {type(event).__name__}")
    if event.get(WORKFLOW_FIELD) is not True:
        raise BadWorkflowPayloadError('the workflow\'s payload must carry "workflow": true')
    missing = sorted(fields - set(event))
    extra = sorted(str(k)[:32] for k in set(event) - fields)
    if missing or extra:
        raise BadWorkflowPayloadError(
            f"the workflow's payload has the fields {', '.join(sorted(fields))}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(extra[:5])}" if extra else "")
            + " (see workflows/README.md)"
        )
    return event


def read_messages(event: object, kind: type[K]) -> list[K]:
    """The messages of `{"workflow": true, "messages": [...]}`, each decoded as `kind`."""
    messages = _checked(event, MESSAGE_FIELDS)["messages"]
    if not isinstance(messages, list):
        raise BadWorkflowPayloadError(f"messages must be a list of {kind.__name__} objects")
    decoded: list[K] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadWorkflowPayloadError(f"messages[{i}] must be a {kind.__name__} as a JSON object")
        try:
            body = json.dumps(message, allow_nan=False)
        except ValueError:
            raise BadWorkflowPayloadError(
                f"messages[{i}] holds a number JSON does not allow (NaN or Infinity)"
            ) from None
        try:
            decoded.append(decode(kind, body))  # type: ignore[type-var]
        except ValidationError as exc:
            raise BadWorkflowPayloadError(
                f"messages[{i}] is not a valid {kind.__name__} ({exc.error_count()} error(s)): {problems(exc)}"
            ) from None
    return decoded


def read_time(event: object) -> int:
    """The epoch second of `{"workflow": true, "time": "<RFC 3339 with an offset>"}`."""
    raw = _checked(event, TICK_FIELDS)["time"]
    if not isinstance(raw, str):
        raise BadWorkflowPayloadError("time must be an RFC 3339 timestamp string, e.g. 2026-06-10T12:00:00Z")
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadWorkflowPayloadError(
            f"time {raw[:40]!r} is not an RFC 3339 timestamp, e.g. 2026-06-10T12:00:00Z"
        ) from None
    if when.tzinfo is None:
        raise BadWorkflowPayloadError(f"time {raw[:40]!r} has no offset: write it in UTC, ending in Z")
    return int(when.timestamp())


def answer(outputs: Sequence[tuple[str, Message]], consumed: type[Any], threshold: float) -> dict[str, Any]:
    """The stage's answer: its outputs encoded as on a bus; for the vote (it consumes ScoresReady), the
    highest confidence of its decisions and the configured threshold too."""
    reply: dict[str, Any] = {"messages": [json.loads(encode(message)) for _, message in outputs]}
    if consumed is ScoresReady:
        reply["confidence"] = highest_confidence([m for _, m in outputs if isinstance(m, DecisionReady)], threshold)
        reply["threshold"] = threshold
    return reply


def highest_confidence(decisions: Sequence[DecisionReady], threshold: float) -> float:
    """The highest confidence among the decisions' steps, 0.0 without any. A step the committee acted on
    counts at least as the threshold: the committee acts on a confidence a rounding error below it
    (`domain.committee`), and the workflow's choice must then place, not drop, its intent."""
    best = 0.0
    for decision in decisions:
        for step in decision.steps:
            best = max(best, step.confidence, threshold if step.action != Action.HOLD else 0.0)
    return best
