"""The owner's controls, shared by the CLI and the manual trade endpoint:

- pause / resume: no new entries while paused; exits (the exit rules, a committee SELL, a flatten, a
  resting stop at the venue) go on;
- the kill switch (stages.placement): the bot sends no order at all; stops resting at the venue stay;
- flatten: exit now at market with reason `flatten`, even while paused or with the kill switch on (it
  is the owner's explicit order).

The flags are documents in the state store, read by order placement before every order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from coinswarm.domain.exit_ids import with_exit_reason
from coinswarm.domain.models import ExitReason, Fill, Order, OrderIntent, RiskRejection, Side
from coinswarm.ports.broker import Broker
from coinswarm.ports.state import StateStore
from coinswarm.stages.exit_watch import ExitWatch

PAUSE_KEY = "flags:paused"


def set_paused(state: StateStore, on: bool, *, reason: str = "", ts: int = 0) -> None:
    state.put(PAUSE_KEY, {"on": on, "reason": reason, "ts": ts})


def paused_reason(state: StateStore) -> str:
    """Why the owner paused new entries, or "" when they are not paused."""
    found = state.get(PAUSE_KEY)
    if not (found and found.value.get("on")):
        return ""
    reason = str(found.value.get("reason") or "")
    return f"the owner paused entries{': ' + reason if reason else ''} (coinswarm resume lifts it)"


def pause_document(state: StateStore) -> dict[str, Any]:
    found = state.get(PAUSE_KEY)
    return dict(found.value) if found else {"on": False}


class Placing(Protocol):
    """What flatten needs of order placement (coinswarm.stages.placement.PlacementStage)."""

    broker: Broker
    exits: ExitWatch | None

    def place(self, intent: OrderIntent, *, now: int, cycle_id: str | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class Flattened:
    """One symbol's flatten: the exit order (None when refused or nothing was held), its fills now, why."""

    symbol: str
    held: float
    order: Order | None
    fills: tuple[Fill, ...]
    rejection: RiskRejection | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "held": self.held,
            "client_order_id": self.order.client_order_id if self.order else None,
            "status": self.order.status.value if self.order else None,
            "filled": [{"quantity": f.quantity, "price": f.price, "fee": f.fee} for f in self.fills],
            "refused": self.rejection.reason if self.rejection else None,
            "note": self.note,
        }


def flatten_intent(symbol: str, price: float, now: int) -> OrderIntent:
    return OrderIntent(
        intent_id=f"cs-{symbol}-{now}-f",
        symbol=symbol,
        side=Side.SELL,
        fraction=1.0,
        reference_price=price,
        ts=now,
        source="manual",
        exit_reason=ExitReason.FLATTEN,
    )


def flatten(
    placement: Placing,
    symbols: Iterable[str] | None,
    *,
    now: int,
    price_of: Callable[[str], float | None],
    record: Callable[[list[Fill]], None],
) -> list[Flattened]:
    """Sell every unit held of `symbols` (None: every symbol held) at market, now. Each exit goes through
    order placement (once per symbol and second), then the broker is settled at once at the latest price
    known (the paper broker fills there; a venue reports its market fill) and `record` books the fills."""
    broker = placement.broker
    held = {s: q for s, q in broker.account().positions.items() if q > 0}
    wanted = sorted(held) if symbols is None else list(symbols)
    out: list[Flattened] = []
    for symbol in wanted:
        quantity = held.get(symbol, 0.0)
        price = price_of(symbol) or broker.account().prices.get(symbol)
        if quantity <= 0 or price is None:
            note = f"no {symbol} position: nothing to flatten" if quantity <= 0 else f"no price known for {symbol}"
            out.append(Flattened(symbol, quantity, None, (), None, note))
            continue
        placed = placement.place(flatten_intent(symbol, price, now), now=now)
        fills: tuple[Fill, ...] = ()
        if placed.order is not None:
            settlement = broker.settle(symbol, price, now)
            fills = tuple(with_exit_reason(f) for f in settlement.fills)
            if fills:
                record(list(fills))
            if placement.exits is not None and broker.account().positions.get(symbol, 0.0) <= 0.0:
                placement.exits.forget(symbol)  # flat: the cycle's exit rules have nothing left to watch
        out.append(Flattened(symbol, quantity, placed.order, fills, placed.rejection, placed.note))
    return out
