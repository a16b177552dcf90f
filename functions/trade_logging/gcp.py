"""trade_logging on Google Cloud: a Pub/Sub push (a CloudEvent) carries a PlacementDone;
a TradesLogged is published when fills were recorded."""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from coinswarm.stages.messages import PlacementDone
from functions.gcp_common import consume


@functions_framework.cloud_event
def trade_logging(event: CloudEvent) -> None:
    consume(event, PlacementDone, lambda app: app.stages.logging.handle)
