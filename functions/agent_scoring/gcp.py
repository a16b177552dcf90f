"""agent_scoring on Google Cloud: a Pub/Sub push (a CloudEvent) carries a CandlesReady;
the ScoresReady it hands on is published on Pub/Sub."""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from coinswarm.stages.messages import CandlesReady
from functions.gcp_common import consume


@functions_framework.cloud_event
def agent_scoring(event: CloudEvent) -> None:
    consume(event, CandlesReady, lambda app: app.stages.scoring.handle)
