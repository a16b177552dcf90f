"""tick_ingest on Google Cloud: an HTTP function that Cloud Scheduler POSTs to on the cycle's cadence.
It ingests the candles closed by the scheduled time and publishes one CandlesReady per symbol.

With `deploy.chain = "workflow"` the cycle's workflow POSTs `{"workflow": true, "time": ...}` instead,
and the CandlesReady are answered, not published (`functions.gcp_common.workflow_tick`)."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from functions.gcp_common import run_tick, scheduled_at, workflow_tick
from functions.workflow_step import is_workflow


@functions_framework.http
def tick_ingest(request: Request) -> tuple[dict[str, Any], int]:
    if request.method != "POST":
        return {"error": "method_not_allowed", "detail": "Cloud Scheduler starts a cycle with a POST"}, 405
    body = request.get_json(silent=True)
    if is_workflow(body):
        return workflow_tick(body)
    return run_tick(scheduled_at(dict(request.headers))), 200
