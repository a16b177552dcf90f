"""Cash, positions and P&L derived by folding ledger events (average-cost accounting).

Realized P&L belongs to closed quantities and is net of their fees: a sell realizes
quantity * (price - average cost) - its fee - the entry fees of the quantity it closes (the open
position's entry fees, `open_fees`, in proportion). An open position's entry fees are part of its
unrealized P&L: quantity * (mark - average cost) - open_fees. So equity = cash + sum(quantity * mark)
= starting cash + realized + unrealized, always.

`FORMAT` versions the stored projection: one written before entry fees moved out of realized P&L
(format 1, no `format` key) is folded again from the events rather than read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coinswarm.domain.models import AccountOpened, Fill, FillRecorded, LedgerEvent, Position, Side

DUST = 1e-12
FORMAT = 2


@dataclass(slots=True)
class Holding:
    quantity: float = 0.0
    avg_cost: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0
    open_fees: float = 0.0  # the entry fees of the quantity still held: unrealized until it is sold


@dataclass(slots=True)
class Portfolio:
    """The state one ledger stream folds to. `seq` is the last event applied."""

    seq: int = 0
    cash: float = 0.0
    deposited: float = 0.0
    fees: float = 0.0
    fills: int = 0
    holdings: dict[str, Holding] = field(default_factory=dict)

    def apply(self, event: LedgerEvent) -> None:
        if event.seq != self.seq + 1:
            raise ValueError(f"event seq {event.seq} does not follow {self.seq}")
        payload = event.payload
        if isinstance(payload, AccountOpened):
            self.cash += payload.cash
            self.deposited += payload.cash
        elif isinstance(payload, FillRecorded):
            self.apply_fill(payload.fill)
        self.seq = event.seq

    def apply_fill(self, fill: Fill) -> None:
        # the fill's fields read once each (a record's field read is slow), the arithmetic as it was
        symbol, quantity, price, fee = fill.symbol, fill.quantity, fill.price, fill.fee
        h = self.holdings.get(symbol)
        if h is None:
            h = self.holdings[symbol] = Holding()
        if fill.side is Side.BUY:
            cost = quantity * price
            total = h.quantity + quantity
            h.avg_cost = (h.quantity * h.avg_cost + cost) / total
            h.quantity = total
            self.cash -= cost + fee
            h.open_fees += fee
        else:
            held = h.quantity
            if quantity > held * (1 + 1e-9) + DUST:
                raise ValueError(f"sell of {quantity} {symbol} exceeds the {held} held")
            closed_share = min(1.0, quantity / held) if held > 0 else 1.0
            entry_fees = h.open_fees * closed_share
            h.realized_pnl += quantity * (price - h.avg_cost) - fee - entry_fees
            h.open_fees -= entry_fees
            h.quantity = max(0.0, held - quantity)
            if h.quantity <= DUST:
                h.realized_pnl -= h.open_fees  # a dust remainder's fee share closes with it
                h.quantity = 0.0
                h.avg_cost = 0.0
                h.open_fees = 0.0
            self.cash += quantity * price - fee
        h.fees += fee
        self.fees += fee
        self.fills += 1

    def quantity(self, symbol: str) -> float:
        h = self.holdings.get(symbol)
        return h.quantity if h else 0.0

    def realized_pnl(self) -> float:
        return sum(h.realized_pnl for h in self.holdings.values())

    def unrealized_pnl(self, marks: Mapping[str, float]) -> float:
        """The open positions' P&L at `marks`, net of their entry fees."""
        return sum(h.quantity * (marks.get(s, h.avg_cost) - h.avg_cost) - h.open_fees for s, h in self.holdings.items())

    def equity(self, marks: Mapping[str, float]) -> float:
        return self.cash + sum(h.quantity * marks.get(s, h.avg_cost) for s, h in self.holdings.items())

    def positions(self) -> list[Position]:
        return [
            Position(symbol=s, quantity=h.quantity, avg_cost=h.avg_cost, realized_pnl=h.realized_pnl, fees=h.fees)
            for s, h in sorted(self.holdings.items())
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "seq": self.seq,
            "cash": self.cash,
            "deposited": self.deposited,
            "fees": self.fees,
            "fills": self.fills,
            "holdings": {
                s: {
                    "quantity": h.quantity,
                    "avg_cost": h.avg_cost,
                    "realized_pnl": h.realized_pnl,
                    "fees": h.fees,
                    "open_fees": h.open_fees,
                }
                for s, h in sorted(self.holdings.items())
            },
        }

    @staticmethod
    def current(data: Mapping[str, Any]) -> bool:
        """Whether a stored projection is in this code's format (else it is folded again from the events)."""
        return data.get("format") == FORMAT

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Portfolio:
        return cls(
            seq=int(data["seq"]),
            cash=float(data["cash"]),
            deposited=float(data["deposited"]),
            fees=float(data["fees"]),
            fills=int(data["fills"]),
            holdings={s: Holding(**h) for s, h in data["holdings"].items()},
        )


def fold(events: Iterable[LedgerEvent], start: Portfolio | None = None) -> Portfolio:
    portfolio = start or Portfolio()
    for event in events:
        portfolio.apply(event)
    return portfolio


def differences(rebuilt: Mapping[str, Any], stored: Mapping[str, Any], path: str = "", tol: float = 1e-9) -> list[str]:
    """Where a stored projection departs from the one rebuilt from events (empty when they agree)."""
    out: list[str] = []
    for key in sorted(set(rebuilt) | set(stored)):
        where = f"{path}.{key}" if path else str(key)
        a, b = rebuilt.get(key), stored.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(differences(a, b, where, tol))
        elif isinstance(a, int | float) and isinstance(b, int | float):
            if abs(a - b) > tol * max(1.0, abs(a), abs(b)):
                out.append(f"{where}: events give {a!r}, projection holds {b!r}")
        elif a != b:
            out.append(f"{where}: events give {a!r}, projection holds {b!r}")
    return out
