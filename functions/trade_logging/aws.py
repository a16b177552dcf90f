"""trade_logging on AWS Lambda: an SQS batch of PlacementDone from the placements queue; each record's
fills appended to the ledger (once per fill id, however often it arrives) and the positions brought up
to date. The TradesLogged it returns ends the cycle: nothing consumes it, so nothing is sent.
Handler: `functions.trade_logging.aws.handler`."""

from __future__ import annotations

from typing import Any

from coinswarm.stages.messages import PlacementDone
from functions.aws_common import AwsFunction

function = AwsFunction("trade_logging", "sqs")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return function.sqs_batch(event, context, PlacementDone, lambda app: app.stages.logging.handle)
