"""trade_logging on AWS Lambda: a PlacementDone with fills, invoked asynchronously by order_placement
(chain "invoke") or in an SQS batch from the placements queue (chain "queues"); its fills appended to the
ledger (once per fill id, however often it arrives) and the positions brought up
to date. The TradesLogged it returns ends the cycle: nothing consumes it, so nothing is sent.
Handler: `functions.trade_logging.aws.handler`."""

from __future__ import annotations

from typing import Any

from coinswarm.stages.messages import PlacementDone
from functions.aws_common import AwsFunction

function = AwsFunction("trade_logging", "message")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return function.consume(event, context, PlacementDone, lambda app: app.stages.ledger.handle)
