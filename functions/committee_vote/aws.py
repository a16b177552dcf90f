"""committee_vote on AWS Lambda: a ScoresReady, invoked asynchronously by agent_scoring (chain "invoke") or
in an SQS batch from the scores queue (chain "queues"); each one voted on and its DecisionReady handed to
order_placement the same way. Handler: `functions.committee_vote.aws.handler`."""

from __future__ import annotations

from typing import Any

from coinswarm.stages.messages import ScoresReady
from functions.aws_common import AwsFunction

function = AwsFunction("committee_vote", "message")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return function.consume(event, context, ScoresReady, lambda app: app.stages.vote.handle)
