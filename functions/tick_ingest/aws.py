"""tick_ingest on AWS Lambda, invoked by an EventBridge Scheduler schedule (one per candle, e.g.
`rate(1 minute)`): fetch and store the newest closed candles of every configured symbol as of the
event's time, and hand one CandlesReady per symbol to agent_scoring (an asynchronous invocation each
with chain "invoke", the candles queue with "queues"). Cycle id: `cycle-<ts>`, the close of the newest
candle. A failure raises, so the Scheduler retries; a retry (or a repeated event) fetches only candles
newer than those stored, so it sends nothing twice. Handler: `functions.tick_ingest.aws.handler`.

With chain "workflow" the cycle's state machine invokes it with `{"workflow": true, "time": <the
execution's start>}` instead, and it answers the CandlesReady messages (`functions.workflow_step`)
rather than sending them."""

from __future__ import annotations

from typing import Any

from coinswarm.stages.messages import CycleTick
from coinswarm.wiring.bootstrap import App
from functions.aws_common import AwsFunction, cycle_tick
from functions.workflow_step import is_workflow, read_time

function = AwsFunction("tick_ingest", "schedule")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_workflow(event):

        def the_tick(app: App) -> list[CycleTick]:
            return [cycle_tick(app, read_time(event))]

        return function.workflow(the_tick, CycleTick, lambda app: app.stages.ingest.handle)
    tick = function.scheduled_tick(event)
    published = function.run(tick, lambda app: app.stages.ingest.handle)
    return {"cycle_id": tick.cycle_id, "published": len(published)}
