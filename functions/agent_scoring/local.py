"""agent_scoring, local entry point: the in-process bus delivers a CandlesReady as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from coinswarm.stages.messages import CANDLES, CandlesReady, Message, decode
from coinswarm.wiring.bootstrap import App

CONSUMES = CANDLES


def handle(app: App, body: str) -> Sequence[tuple[str, Message]]:
    return app.stages.scoring.handle(decode(CandlesReady, body))
