"""order_placement, local entry point: the in-process bus delivers a DecisionReady as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from coinswarm.stages.messages import DECISIONS, DecisionReady
from coinswarm.wiring.bootstrap import App

CONSUMES = DECISIONS


def handle(app: App, body: str) -> Sequence[tuple[str, BaseModel]]:
    return app.stages.placement.handle(DecisionReady.model_validate_json(body))
