"""From a decision to an order intent: how much to buy or sell. Risk may still reduce or refuse it."""

from __future__ import annotations

from dataclasses import dataclass

from coinswarm.domain.models import Action, Decision, ExitReason, Fill, OrderIntent, Side

# An exit's reason travels in its client order id's last part, so a fill of it says why whichever broker
# filled it, after any restart, with nothing else stored: `cs-BTC-USD-1700000000-sl` is a stop-loss.
EXIT_SUFFIX: dict[ExitReason, str] = {
    ExitReason.SIGNAL: "s",  # the committee's sell: the id a sell decision always had
    ExitReason.STOP_LOSS: "sl",
    ExitReason.TRAILING_STOP: "tsl",
    ExitReason.ROI: "roi",
    ExitReason.MAX_HOLD: "mh",
    ExitReason.FLATTEN: "f",
    ExitReason.END_OF_BACKTEST: "end",
}
_REASON_OF_SUFFIX = {suffix: reason for reason, suffix in EXIT_SUFFIX.items()}
MANUAL_PREFIXES = ("cs-mc-", "cs-ma-")  # the manual trade endpoint's ids (coinswarm.http.manual_trade)


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


def exit_order_id(symbol: str, ts: int, reason: ExitReason) -> str:
    """The client order id of an exit decided at `ts` for `reason` (MANUAL exits have the endpoint's ids)."""
    return f"cs-{symbol}-{ts}-{EXIT_SUFFIX[reason]}"


def exit_reason_of(client_order_id: str) -> ExitReason | None:
    """The reason of the exit order with this id, as `exit_order_id` and the manual endpoint make them."""
    if client_order_id.startswith(MANUAL_PREFIXES):
        return ExitReason.MANUAL
    return _REASON_OF_SUFFIX.get(client_order_id.rpartition("-")[2])


def with_exit_reason(fill: Fill) -> Fill:
    """A sell fill with its exit reason, read from its order's id when the broker did not set it."""
    if fill.side is not Side.SELL or fill.exit_reason is not None:
        return fill
    reason = exit_reason_of(fill.client_order_id)
    return fill if reason is None else fill.model_copy(update={"exit_reason": reason})


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
