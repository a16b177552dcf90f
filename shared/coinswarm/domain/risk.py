"""Risk limits, checked before every order: a pure function of the intent, the account as the broker
reports it, today's counters, the kill switch and why new entries are paused. Buys that would break a
size limit are reduced to fit when what is left is still a valid order; everything else that breaks a
limit is refused.

Risk never traps an exit. An order that only reduces a position (a sell of what is held: this bot is
long only) passes every halt: the daily-loss halt, the orders-per-day limit, the exposure limits, the
owner's pause and the protections. It still takes its slot in the day's count, and a daily loss it
meets still halts the day for entries. Only the kill switch stops it (it stops every order), and not
even that stops the owner's `flatten`, the explicit order to exit now.

A committee decision the position makes moot is a hold, not a refusal (`moot_decision`): a SELL with
nothing held, a BUY with the symbol's position already at its limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from coinswarm.domain.models import ExitReason, OrderIntent, Side

DAY_S = 86_400
_SELL, _FLATTEN = Side.SELL, ExitReason.FLATTEN  # read on every order (an enum member is slow to look up)


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
    intent: OrderIntent,
    account: AccountView,
    day: RiskDay,
    limits: RiskLimits,
    *,
    kill_switch: bool,
    entries_paused: str = "",
) -> RiskVerdict:
    """Approve (maybe reduced), or refuse with the reason. The returned `day` has today's halt recorded.
    `entries_paused`: why new entries may not be made now (the owner's pause, a protection); "" if they may."""
    if kill_switch and intent.exit_reason is not _FLATTEN:
        return RiskVerdict(False, "kill switch is on: every order is stopped (only the owner's flatten exits)")
    held = account.positions.get(intent.symbol, 0.0)
    notional = intent.estimated_notional(account.cash, held)
    if intent.side is _SELL:  # an exit: no halt stops it, though a loss it meets still halts entries
        price = account.prices.get(intent.symbol, intent.reference_price)
        sell = _check_sell(intent, held, price, notional, limits)
        return RiskVerdict(sell.approved, sell.reason, sell.intent, _halt_on_loss(day, account.equity, limits))
    if entries_paused:
        return RiskVerdict(False, f"new entries are paused: {entries_paused}")
    if day.halted:
        return RiskVerdict(False, f"trading stopped for the rest of the day: {day.halted}")
    total = account.total_exposure  # valued once for the loss and the room left
    halted = _halt_on_loss(day, account.cash + total, limits)
    if halted is not None:
        return RiskVerdict(False, f"trading stopped for the rest of the day: {halted.halted}", day=halted)
    if day.orders >= limits.max_orders_per_day:
        return RiskVerdict(False, f"{day.orders} orders today: the limit is {limits.max_orders_per_day}")
    return _check_buy(intent, account, notional, limits, total)


def _halt_on_loss(day: RiskDay, equity: float, limits: RiskLimits) -> RiskDay | None:
    """Today's counters with the halt recorded, when the daily loss reached its limit just now (the account
    is worth `equity`); else None."""
    if day.halted:
        return None
    loss = day.start_equity - equity
    if loss < limits.max_daily_loss:
        return None
    return replace(day, halted=f"daily loss {loss:,.2f} reached the limit {limits.max_daily_loss:,.2f}")


def moot_decision(intent: OrderIntent, account: AccountView, limits: RiskLimits) -> str:
    """Why a committee intent is simply a hold for a long-only bot, or "" when it is an order: a SELL with
    nothing held, or a BUY while the symbol's position is already at its limit (no valid buy fits)."""
    if intent.source != "committee" or intent.exit_reason not in (None, ExitReason.SIGNAL):
        return ""
    if intent.side is Side.SELL:
        if account.positions.get(intent.symbol, 0.0) <= 0.0:
            return f"nothing held: the SELL on {intent.symbol} is a hold"
        return ""
    room = limits.max_position_notional - account.exposure(intent.symbol)
    if room <= 0.0 or room < limits.min_order_notional:
        return (
            f"{intent.symbol} position at its limit ({account.exposure(intent.symbol):,.2f} of "
            f"max_position_notional {limits.max_position_notional:,.2f}): the BUY is a hold"
        )
    return ""


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


def _check_buy(
    intent: OrderIntent, account: AccountView, notional: float, limits: RiskLimits, total_exposure: float
) -> RiskVerdict:
    room_position = limits.max_position_notional - account.exposure(intent.symbol)
    room_total = limits.max_total_exposure - total_exposure
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
