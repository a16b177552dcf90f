"""trade_logging on Google Cloud: a Pub/Sub push (a CloudEvent) carries a PlacementDone;
a TradesLogged is published when fills were recorded.

An HTTP function (it answers JSON): with `deploy.chain = "workflow"` the cycle's workflow POSTs its
step here instead (`functions.gcp_common.serve`)."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from coinswarm.stages.messages import PlacementDone
from functions.gcp_common import serve


@functions_framework.http
def trade_logging(request: Request) -> tuple[Any, int]:
    return serve(request, PlacementDone, lambda app: app.stages.ledger.handle)
