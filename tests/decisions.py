"""Hand-made committee verdicts for the tests that deliver a decision straight to order placement
(redelivery, overlap, crash and push scenarios): one buy step with its intent, or one hold step that only
shows the broker a price."""

from __future__ import annotations

from coinswarm.domain.models import Action, Decision, OrderIntent, Side
from coinswarm.stages.messages import DecidedStep, DecisionReady


def buy_decision(
    symbol: str,
    cycle: str,
    ts: int,
    *,
    intent_id: str,
    notional: float,
    price: float,
    settle_ts: int | None = None,
    decision_id: str | None = None,
    reason: str = "test",
) -> DecisionReady:
    """A BUY at `ts` with intent `intent_id` for `notional`, earlier orders settling at `price` at
    `settle_ts` (default `ts`)."""
    decision = Decision(
        decision_id=decision_id or f"{symbol}-{ts}-{cycle}",
        cycle_id=cycle,
        symbol=symbol,
        ts=ts,
        action=Action.BUY,
        signal=0.9,
        confidence=0.9,
        votes=(),
        reason=reason,
    )
    intent = OrderIntent(
        intent_id=intent_id,
        symbol=symbol,
        side=Side.BUY,
        notional=notional,
        reference_price=price,
        ts=ts,
        decision_id=decision.decision_id,
    )
    settled = ts if settle_ts is None else settle_ts
    step = DecidedStep(ts, Action.BUY, 0.9, price, settled, price, decision, intent)
    return DecisionReady(cycle_id=cycle, symbol=symbol, steps=(step,))


def hold_decision(symbol: str, cycle: str, ts: int, *, price: float) -> DecisionReady:
    """A HOLD at `ts`: pending orders settle at `price`, nothing is placed."""
    return DecisionReady(cycle_id=cycle, symbol=symbol, steps=(DecidedStep(ts, Action.HOLD, 0.0, price, ts, price),))
