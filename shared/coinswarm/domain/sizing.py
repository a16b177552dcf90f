"""From a decision to an order intent: how much to buy or sell. Risk may still reduce or refuse it."""

from __future__ import annotations

from dataclasses import dataclass

from coinswarm.domain.models import MAX_MARKET_NUMBER, Action, Decision, ExitReason, OrderIntent, Side, trusted


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
    return intent_of(decision.action, decision.symbol, decision.ts, decision.decision_id, price=price, rule=rule)


def intent_of(action: Action, symbol: str, ts: int, decision_id: str, *, price: float, rule: SizingRule) -> OrderIntent:
    """intent_for from the decision's fields (a BUY or a SELL; symbol, ts and id as a Decision holds them:
    a str, an int, a str), for a caller that holds them already (the vote stage)."""
    side = Side.BUY if action is Action.BUY else Side.SELL
    size = _checked_size(rule, side)
    if not (type(price) is float and 0.0 < price < MAX_MARKET_NUMBER and type(ts) is int and type(symbol) is str):
        return OrderIntent(  # an int price, a bad price, an odd type: validated (converted or refused)
            intent_id=client_order_id(symbol, ts, side),
            symbol=symbol,
            side=side,
            reference_price=price,
            ts=ts,
            source="committee",
            decision_id=decision_id,
            exit_reason=ExitReason.SIGNAL if side is Side.SELL else None,
            **size.values(),
        )
    # Every value is valid by construction: a decision's checked fields, a finite price above 0, and the
    # rule's size checked once (below). Built as validation builds it, without validating again.
    return trusted(
        OrderIntent,
        {
            "intent_id": client_order_id(symbol, ts, side),
            "symbol": symbol,
            "side": side,
            "notional": size.notional,
            "quantity": None,
            "fraction": size.fraction,
            "reference_price": price,
            "ts": ts,
            "source": "committee",
            "decision_id": decision_id,
            "exit_reason": ExitReason.SIGNAL if side is Side.SELL else None,
        },
        set(size.fields_set),
    )


class _Size:
    """A rule's size for one side as OrderIntent validated it ("notional" or "fraction", the other None),
    with the fields a validated intent of that size has set. It holds its rule: the cache is keyed by the
    rule's id (hashing a rule costs more than the rest of an intent), which cannot be reused while held."""

    __slots__ = ("fields_set", "fraction", "given", "notional", "rule")

    def __init__(self, rule: SizingRule, sample: OrderIntent, given: tuple[str, ...]) -> None:
        self.rule = rule
        self.notional = sample.notional
        self.fraction = sample.fraction
        self.given = given
        self.fields_set = frozenset((*_INTENT_FIELDS, *given))

    def values(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in self.given}


_SIZES: dict[tuple[int, Side], _Size] = {}
_INTENT_FIELDS = ("intent_id", "symbol", "side", "reference_price", "ts", "source", "decision_id", "exit_reason")


def _checked_size(rule: SizingRule, side: Side) -> _Size:
    """The size the rule gives `side`, checked by validating one intent of it the first time (so a rule
    refused there is refused as before, naming the field), and remembered."""
    found = _SIZES.get((id(rule), side))
    if found is not None and found.rule is rule:
        return found
    if side is Side.BUY:
        given = {"notional": rule.buy_notional} if rule.buy_notional else {"fraction": rule.buy_fraction}
    else:
        given = {"fraction": rule.sell_fraction}
    sample = OrderIntent(intent_id="size-check", symbol="size-check", side=side, reference_price=1.0, ts=0, **given)
    if len(_SIZES) >= 1024:  # rules are few (one per configuration); a bound all the same
        _SIZES.clear()
    size = _SIZES[(id(rule), side)] = _Size(rule, sample, tuple(given))
    return size
