"""Risk limits, checked before every order: a pure function of the intent, the account as the broker
reports it, today's counters and the kill switch. Buys that would break a size limit are reduced to
fit when what is left is still a valid order; everything else that breaks a limit is refused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from coinswarm.domain.models import OrderIntent, Side

DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_position_notional: float = float("inf")
    max_total_exposure: float = float("inf")
    max_daily_loss: float = float("inf")
    max_orders_per_day: int = 1_000_000_000
    min_order_notional: float = 0.0


@dataclass(frozen=True, slots=True)
class AccountView:
    """Cash and holdings as the broker has them, valued at the last prices it observed."""

    cash: float
    positions: Mapping[str, float] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)

    def exposure(self, symbol: str) -> float:
        return self.positions.get(symbol, 0.0) * self.prices.get(symbol, 0.0)

    @property
    def total_exposure(self) -> float:
        return sum(q * self.prices.get(s, 0.0) for s, q in self.positions.items())

    @property
    def equity(self) -> float:
        return self.cash + self.total_exposure


@dataclass(frozen=True, slots=True)
class RiskDay:
    """Today's counters (UTC day number). `halted` holds why trading stopped for the rest of the day."""

    day: int
    start_equity: float
    orders: int = 0
    halted: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "start_equity": self.start_equity,
            "orders": self.orders,
            "halted": self.halted,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RiskDay:
        return cls(int(d["day"]), float(d["start_equity"]), int(d["orders"]), str(d["halted"]))


def roll_day(day: RiskDay | None, ts: int, equity: float) -> RiskDay:
    """Today's counters: the same as before within a day, fresh at the first look of a new UTC day."""
    today = ts // DAY_S
    if day is not None and day.day == today:
        return day
    return RiskDay(day=today, start_equity=equity)


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    approved: bool
    reason: str
    intent: OrderIntent | None = None
    day: RiskDay | None = None


def check_order(
    intent: OrderIntent, account: AccountView, day: RiskDay, limits: RiskLimits, *, kill_switch: bool
) -> RiskVerdict:
    """Approve (maybe reduced), or refuse with the reason. The returned `day` has today's halt recorded."""
    if kill_switch:
        return RiskVerdict(False, "kill switch is on: every order is stopped")
    if day.halted:
        return RiskVerdict(False, f"trading stopped for the rest of the day: {day.halted}")
    loss = day.start_equity - account.equity
    if loss >= limits.max_daily_loss:
        why = f"daily loss {loss:,.2f} reached the limit {limits.max_daily_loss:,.2f}"
        return RiskVerdict(False, f"trading stopped for the rest of the day: {why}", day=replace(day, halted=why))
    if day.orders >= limits.max_orders_per_day:
        return RiskVerdict(False, f"{day.orders} orders today: the limit is {limits.max_orders_per_day}")
    price = account.prices.get(intent.symbol, intent.reference_price)
    held = account.positions.get(intent.symbol, 0.0)
    notional = intent.estimated_notional(account.cash, held)
    if intent.side is Side.SELL:
        return _check_sell(intent, held, price, notional, limits)
    return _check_buy(intent, account, notional, limits)


def _check_sell(intent: OrderIntent, held: float, price: float, notional: float, limits: RiskLimits) -> RiskVerdict:
    if held <= 0.0:
        return RiskVerdict(False, f"nothing to sell: no {intent.symbol} position")
    held_value = held * price
    if notional > held_value * (1 + 1e-9):
        reduced = replace_size(intent, quantity=held)
        return RiskVerdict(True, f"sell reduced to the {held:.8g} {intent.symbol} held", reduced)
    closes_all = notional >= held_value * (1 - 1e-9)
    if notional < limits.min_order_notional and not closes_all:
        return RiskVerdict(False, f"order {notional:,.2f} is below the minimum {limits.min_order_notional:,.2f}")
    return RiskVerdict(True, "approved", intent)


def _check_buy(intent: OrderIntent, account: AccountView, notional: float, limits: RiskLimits) -> RiskVerdict:
    room_position = limits.max_position_notional - account.exposure(intent.symbol)
    room_total = limits.max_total_exposure - account.total_exposure
    room = min(room_position, room_total, account.cash)
    which = (
        "max_position_notional"
        if room == room_position
        else "max_total_exposure"
        if room == room_total
        else "cash available"
    )
    if notional <= room:
        if notional < limits.min_order_notional:
            return RiskVerdict(False, f"order {notional:,.2f} is below the minimum {limits.min_order_notional:,.2f}")
        return RiskVerdict(True, "approved", intent)
    if room < limits.min_order_notional or room <= 0.0:
        return RiskVerdict(False, f"{which} leaves {max(room, 0.0):,.2f}, below the minimum order")
    reduced = replace_size(intent, notional=room)
    return RiskVerdict(True, f"reduced from {notional:,.2f} to {room:,.2f} by {which}", reduced)


def replace_size(intent: OrderIntent, *, notional: float | None = None, quantity: float | None = None) -> OrderIntent:
    return intent.model_copy(update={"notional": notional, "quantity": quantity, "fraction": None})


def limits_from(config: Any) -> RiskLimits:
    """RiskLimits from a `RiskConfig`-shaped object."""
    return RiskLimits(
        max_position_notional=config.max_position_notional,
        max_total_exposure=config.max_total_exposure,
        max_daily_loss=config.max_daily_loss,
        max_orders_per_day=config.max_orders_per_day,
        min_order_notional=config.min_order_notional,
    )
