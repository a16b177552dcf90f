"""tick_ingest, local entry point: the in-process bus delivers a CycleTick as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from coinswarm.stages.messages import TICK, CycleTick, Message, decode
from coinswarm.wiring.bootstrap import App

CONSUMES = TICK


def handle(app: App, body: str) -> Sequence[tuple[str, Message]]:
    return app.stages.ingest.handle(decode(CycleTick, body))
