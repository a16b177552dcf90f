"""committee_vote, local entry point: the in-process bus delivers a ScoresReady as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from coinswarm.stages.messages import SCORES, Message, ScoresReady, decode
from coinswarm.wiring.bootstrap import App

CONSUMES = SCORES


def handle(app: App, body: str) -> Sequence[tuple[str, Message]]:
    return app.stages.vote.handle(decode(ScoresReady, body))
