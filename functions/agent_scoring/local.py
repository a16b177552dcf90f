"""agent_scoring, local entry point: the in-process bus delivers a CandlesReady as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from coinswarm.stages.messages import CANDLES, CandlesReady
from coinswarm.wiring.bootstrap import App

CONSUMES = CANDLES


def handle(app: App, body: str) -> Sequence[tuple[str, BaseModel]]:
    return app.stages.scoring.handle(CandlesReady.model_validate_json(body))
