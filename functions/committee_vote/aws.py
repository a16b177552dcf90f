"""committee_vote on AWS Lambda: an SQS batch of ScoresReady from the scores queue; each record voted on
and its DecisionReady published on the decisions queue. Handler: `functions.committee_vote.aws.handler`."""

from __future__ import annotations

from typing import Any

from coinswarm.stages.messages import ScoresReady
from functions.aws_common import AwsFunction

function = AwsFunction("committee_vote", "sqs")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return function.sqs_batch(event, context, ScoresReady, lambda app: app.stages.vote.handle)
