"""The five local entry points, by the topic each consumes: what the local mesh subscribes to its bus."""

from __future__ import annotations

from functools import partial

from coinswarm.ports.bus import Handler
from coinswarm.wiring.bootstrap import App
from functions.agent_scoring import local as agent_scoring
from functions.committee_vote import local as committee_vote
from functions.order_placement import local as order_placement
from functions.tick_ingest import local as tick_ingest
from functions.trade_logging import local as trade_logging

ENTRY_POINTS = (tick_ingest, agent_scoring, committee_vote, order_placement, trade_logging)


def local_handlers(app: App) -> dict[str, Handler]:
    return {module.CONSUMES: partial(module.handle, app) for module in ENTRY_POINTS}
