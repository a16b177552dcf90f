"""committee_vote on Google Cloud: a Pub/Sub push (a CloudEvent) carries a ScoresReady;
the DecisionReady it hands on is published on Pub/Sub."""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from coinswarm.stages.messages import ScoresReady
from functions.gcp_common import consume


@functions_framework.cloud_event
def committee_vote(event: CloudEvent) -> None:
    consume(event, ScoresReady, lambda app: app.stages.vote.handle)
