"""order_placement on Google Cloud: a Pub/Sub push (a CloudEvent) carries a DecisionReady;
the PlacementDone it hands on is published on Pub/Sub."""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from coinswarm.stages.messages import DecisionReady
from functions.gcp_common import consume


@functions_framework.cloud_event
def order_placement(event: CloudEvent) -> None:
    consume(event, DecisionReady, lambda app: app.stages.placement.handle)
