"""tick_ingest, local entry point: the in-process bus delivers a CycleTick as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from coinswarm.stages.messages import TICK, CycleTick
from coinswarm.wiring.bootstrap import App

CONSUMES = TICK


def handle(app: App, body: str) -> Sequence[tuple[str, BaseModel]]:
    return app.stages.ingest.handle(CycleTick.model_validate_json(body))
