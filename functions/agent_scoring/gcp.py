"""agent_scoring on Google Cloud: a Pub/Sub push (a CloudEvent) carries a CandlesReady;
the ScoresReady it hands on is published on Pub/Sub.

An HTTP function (it answers JSON): with `deploy.chain = "workflow"` the cycle's workflow POSTs its
step here instead (`functions.gcp_common.serve`)."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from coinswarm.stages.messages import CandlesReady
from functions.gcp_common import serve


@functions_framework.http
def agent_scoring(request: Request) -> tuple[Any, int]:
    return serve(request, CandlesReady, lambda app: app.stages.scoring.handle)
