"""Which modules belong to which stage, for the cold-start tests: a function that builds its own stage
loads these modules of that stage and none of another stage's (the agents, shared by scoring and the
vote, are left out)."""

from __future__ import annotations

STAGE_MODULES: dict[str, tuple[str, ...]] = {
    "ingest": ("coinswarm.stages.ingest", "coinswarm.domain.gaps"),
    "scoring": ("coinswarm.stages.scoring", "coinswarm.stages.agent_memory", "coinswarm.domain.market_state"),
    "vote": ("coinswarm.stages.vote", "coinswarm.domain.committee", "coinswarm.domain.sizing"),
    "placement": ("coinswarm.stages.placement", "coinswarm.domain.risk", "coinswarm.adapters.paper_broker"),
    "ledger": ("coinswarm.stages.ledger_stage", "coinswarm.stages.ledger", "coinswarm.domain.portfolio"),
}

STAGE_OF_FUNCTION: dict[str, str | None] = {
    "tick_ingest": "ingest",
    "agent_scoring": "scoring",
    "committee_vote": "vote",
    "order_placement": "placement",
    "trade_logging": "ledger",
    "manual_trade": "placement",  # a trade is placed through the placement stage
    "push_receiver": None,  # builds a stage only when a push for it arrives
    "telegram_webhook": None,  # reads the stores; builds a stage only for /cycle or /flatten
}

EVERY_STAGE_MODULE = tuple(sorted(m for modules in STAGE_MODULES.values() for m in modules))


def own_modules(function: str) -> list[str]:
    stage = STAGE_OF_FUNCTION[function]
    return sorted(STAGE_MODULES[stage]) if stage else []
