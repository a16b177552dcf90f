"""committee_vote: weigh the agents' scores at each decision point, keep every decision with its votes
(the audit trail), and size an intent when the committee acts.

A vote taken again on the same scores gives the same decision ids, but not the same message: the
pattern cache has seen the state since, and the audit record says so. Where messages may be delivered
again (a cloud function), the outbox (see stages.outbox) answers a redelivery with the DecisionReady the
first delivery handed on, body for body, so order placement's own outbox recognises the repeat."""

from __future__ import annotations

from coinswarm.domain.committee import Committee
from coinswarm.domain.models import Action
from coinswarm.domain.sizing import SizingRule, intent_of
from coinswarm.ports.history import HistoryStore
from coinswarm.stages.messages import DECISIONS, DecidedStep, DecisionReady, Message, ScoresReady
from coinswarm.stages.outbox import NO_OUTBOX, Outbox


class VoteStage:
    def __init__(
        self, committee: Committee, history: HistoryStore, sizing: SizingRule, *, outbox: Outbox = NO_OUTBOX
    ) -> None:
        self.committee = committee
        self.history = history
        self.sizing = sizing
        self.outbox = outbox

    def handle(self, msg: ScoresReady) -> list[tuple[str, Message]]:
        return self.outbox.once("voted", msg, msg.symbol, lambda: self.vote(msg))

    def vote(self, msg: ScoresReady) -> list[tuple[str, Message]]:
        symbol, committee, history = msg.symbol, self.committee, self.history
        retention = history.decision_retention()
        keep_from = 0 if retention is None else len(msg.scored) - retention
        steps: list[DecidedStep] = []
        keep, new, step = steps.append, object.__new__, DecidedStep
        verdict_of, hold, sizing = committee.verdict, Action.HOLD, self.sizing  # looked up once, not per bar
        for i, point in enumerate(msg.scored):
            candle = point.candle
            ts = candle.ts + candle.timeframe_s  # its close_ts, read without the property's call
            ballot = verdict_of(symbol, point.scores, point.market_state)
            verdict = ballot.verdict
            action = verdict.action
            decision = None
            intent = None
            # A hold the store would drop at once (a long replay, a bounded store) is not recorded.
            if action is not hold or i >= keep_from:
                decision = committee.record(
                    ballot,
                    cycle_id=msg.cycle_id,
                    symbol=symbol,
                    ts=ts,
                    scores=point.scores,
                    state_key=point.market_state,
                )
                history.record_decision(decision)
                if action is not hold:
                    intent = intent_of(action, symbol, ts, decision.decision_id, price=candle.close, rule=sizing)
            # DecidedStep(ts, action, ...), every field set, without the generated __init__'s call: a
            # third less per bar (a plain slotted dataclass, so nothing is skipped but the call)
            made = new(step)
            made.ts = ts
            made.action = action
            made.confidence = verdict.confidence
            made.settle_price = point.settle_price
            made.settle_ts = point.settle_ts
            made.mark_price = candle.close
            made.decision = decision
            made.intent = intent
            made.candle = candle
            keep(made)
        return [(DECISIONS, DecisionReady(cycle_id=msg.cycle_id, symbol=symbol, steps=tuple(steps)))]
