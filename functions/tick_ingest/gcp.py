"""tick_ingest on Google Cloud: an HTTP function that Cloud Scheduler POSTs to on the cycle's cadence.
It ingests the candles closed by the scheduled time and publishes one CandlesReady per symbol."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from functions.gcp_common import run_tick, scheduled_at


@functions_framework.http
def tick_ingest(request: Request) -> tuple[dict[str, Any], int]:
    if request.method != "POST":
        return {"error": "method_not_allowed", "detail": "Cloud Scheduler starts a cycle with a POST"}, 405
    return run_tick(scheduled_at(dict(request.headers))), 200
