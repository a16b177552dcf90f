"""trade_logging, local entry point: the in-process bus delivers a PlacementDone as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from coinswarm.stages.messages import PLACEMENTS, Message, PlacementDone, decode
from coinswarm.wiring.bootstrap import App

CONSUMES = PLACEMENTS


def handle(app: App, body: str) -> Sequence[tuple[str, Message]]:
    return app.stages.ledger.handle(decode(PlacementDone, body))
