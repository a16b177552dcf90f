"""From a decision to an order intent: how much to buy or sell. Risk may still reduce or refuse it."""

from __future__ import annotations

from dataclasses import dataclass

from coinswarm.domain.models import Action, Decision, ExitReason, OrderIntent, Side


@dataclass(frozen=True, slots=True)
class SizingRule:
    """Buys: `buy_notional` in quote currency, or else `buy_fraction` of the cash at fill time.
    Sells: `sell_fraction` of the position held at fill time."""

    buy_notional: float | None = 1_000.0
    buy_fraction: float | None = None
    sell_fraction: float = 1.0


def client_order_id(symbol: str, ts: int, side: Side) -> str:
    """Deterministic, venue-safe (Binance allows [.A-Z:/a-z0-9_-]{1,36}): the same decision, the same id."""
    return f"cs-{symbol}-{ts}-{side.value[0]}"


def intent_for(decision: Decision, *, price: float, rule: SizingRule) -> OrderIntent | None:
    if decision.action is Action.HOLD:
        return None
    side = Side.BUY if decision.action is Action.BUY else Side.SELL
    if side is Side.BUY:
        size = {"notional": rule.buy_notional} if rule.buy_notional else {"fraction": rule.buy_fraction}
    else:
        size = {"fraction": rule.sell_fraction}
    reason = ExitReason.SIGNAL if side is Side.SELL else None
    return OrderIntent(
        intent_id=client_order_id(decision.symbol, decision.ts, side),
        symbol=decision.symbol,
        side=side,
        reference_price=price,
        ts=decision.ts,
        source="committee",
        decision_id=decision.decision_id,
        exit_reason=reason,
        **size,
    )
