"""committee_vote: weigh the agents' scores, keep the decision with every vote, size an intent when it acts."""

from __future__ import annotations

from pydantic import BaseModel

from coinswarm.domain.committee import Committee
from coinswarm.domain.sizing import SizingRule, intent_for
from coinswarm.ports.history import HistoryStore
from coinswarm.stages.messages import DECISIONS, DecisionReady, ScoresReady


class VoteStage:
    def __init__(self, committee: Committee, history: HistoryStore, sizing: SizingRule) -> None:
        self.committee = committee
        self.history = history
        self.sizing = sizing

    def handle(self, msg: ScoresReady) -> list[tuple[str, BaseModel]]:
        candle = msg.candle
        decision = self.committee.decide(
            cycle_id=msg.cycle_id,
            symbol=msg.symbol,
            ts=candle.close_ts,
            scores=msg.scores,
            state_key=msg.market_state,
        )
        self.history.record_decision(decision)
        intent = intent_for(decision, price=candle.close, rule=self.sizing)
        return [
            (
                DECISIONS,
                DecisionReady(
                    cycle_id=msg.cycle_id,
                    decision=decision,
                    intent=intent,
                    settle_price=msg.settle_price,
                    settle_ts=msg.settle_ts,
                    mark_price=candle.close,
                ),
            )
        ]
