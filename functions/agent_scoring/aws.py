"""agent_scoring on AWS Lambda: an SQS batch of CandlesReady from the candles queue; each record scored
and its ScoresReady published on the scores queue. Handler: `functions.agent_scoring.aws.handler`."""

from __future__ import annotations

from typing import Any

from coinswarm.stages.messages import CandlesReady
from functions.aws_common import AwsFunction

function = AwsFunction("agent_scoring", "sqs")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return function.sqs_batch(event, context, CandlesReady, lambda app: app.stages.scoring.handle)
