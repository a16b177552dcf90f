"""committee_vote, local entry point: the in-process bus delivers a ScoresReady as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from coinswarm.stages.messages import SCORES, ScoresReady
from coinswarm.wiring.bootstrap import App

CONSUMES = SCORES


def handle(app: App, body: str) -> Sequence[tuple[str, BaseModel]]:
    return app.stages.vote.handle(ScoresReady.model_validate_json(body))
