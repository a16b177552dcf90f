"""agent_scoring on AWS Lambda: a CandlesReady, invoked asynchronously by tick_ingest (chain "invoke") or
in an SQS batch from the candles queue (chain "queues"); each one scored and its ScoresReady handed to
committee_vote the same way. Handler: `functions.agent_scoring.aws.handler`."""

from __future__ import annotations

from typing import Any

from coinswarm.stages.messages import CandlesReady
from functions.aws_common import AwsFunction

function = AwsFunction("agent_scoring", "message")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return function.consume(event, context, CandlesReady, lambda app: app.stages.scoring.handle)
