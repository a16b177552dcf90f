"""order_placement, local entry point: the in-process bus delivers a DecisionReady as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from coinswarm.stages.messages import DECISIONS, DecisionReady, Message, decode
from coinswarm.wiring.bootstrap import App

CONSUMES = DECISIONS


def handle(app: App, body: str) -> Sequence[tuple[str, Message]]:
    return app.stages.placement.handle(decode(DecisionReady, body))
