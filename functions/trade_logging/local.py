"""trade_logging, local entry point: the in-process bus delivers a PlacementDone as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from coinswarm.stages.messages import PLACEMENTS, PlacementDone
from coinswarm.wiring.bootstrap import App

CONSUMES = PLACEMENTS


def handle(app: App, body: str) -> Sequence[tuple[str, BaseModel]]:
    return app.stages.logging.handle(PlacementDone.model_validate_json(body))
