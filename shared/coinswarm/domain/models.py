"""Typed records of the trading domain.

Times are integer UTC epoch seconds (`ts`): cheap to compare, exact, and the same on every cloud.
Money is float in the quote currency of the symbol (USD for BTC-USD); quantities are in base units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

Signal = Annotated[float, Field(ge=-1.0, le=1.0)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
# What a market says: finite and below MAX_MARKET_NUMBER (a NaN, or 1e999 read as infinity, is refused
# where it enters, so that it never reaches an indicator) and, for a price, above 0.
MAX_MARKET_NUMBER = 1e18  # far above any price or bar volume, far below what an indicator's sums could overflow
Price = Annotated[float, Field(gt=0.0, lt=MAX_MARKET_NUMBER, allow_inf_nan=False)]
Volume = Annotated[float, Field(ge=0.0, lt=MAX_MARKET_NUMBER, allow_inf_nan=False)]


def iso(ts: int) -> str:
    """Epoch seconds as an ISO-8601 UTC string (`2024-01-01T00:00:00Z`)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Frozen(BaseModel):
    """The base of every domain record. `defer_build`: a model's validator is built the first time the
    model is used, not at import, so a cloud function's cold start pays only for the records it
    handles (a function that never sees a LedgerEvent never builds one)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


M = TypeVar("M", bound=Frozen)


_set_attribute = object.__setattr__


def trusted(cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
    """A record of values already checked, as `cls.model_construct` would make it (the same fields, the same
    `model_fields_set`, so it dumps, compares and hashes as the validated record), without validating them
    again and without model_construct's loop over the fields. `values` holds every field, in the order
    the class declares them; `fields_set` the ones its caller would have given to the constructor.

    For the records a trading bar makes (Decision, Vote, OrderIntent, LedgerEvent) from values that are
    valid by construction: each caller says why, and checks what it cannot vouch for."""
    record = object.__new__(cls)
    _set_attribute(record, "__dict__", values)
    _set_attribute(record, "__pydantic_fields_set__", fields_set)
    _set_attribute(record, "__pydantic_extra__", None)
    _set_attribute(record, "__pydantic_private__", None)
    return record


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class ExitReason(StrEnum):
    """Why a position (or part of one) was closed: stored with the exit's intent, fill and closed trade."""

    SIGNAL = "signal"  # the committee voted SELL (and exits.exit_on_signal is on)
    STOP_LOSS = "stop_loss"  # the price fell exits.stop_loss_pct below the entry (or a resting stop filled)
    TRAILING_STOP = "trailing_stop"  # the price fell back from its high by exits.trailing_stop_pct
    ROI = "roi"  # the profit reached the exits.roi table's minimum for the time held
    MAX_HOLD = "max_hold"  # held for exits.max_hold_minutes
    FLATTEN = "flatten"  # the owner's explicit order to exit now
    MANUAL = "manual"  # a manual sell through the CLI or the manual trade endpoint
    END_OF_BACKTEST = "end_of_backtest"  # the forced close when a backtest's data ends


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar. `ts` is the bar's open time; the bar closes at `ts + timeframe_s`.

    Every stage reads candles several times a bar, so this record is a frozen slotted dataclass rather
    than a pydantic model: a field read costs a quarter as much (pydantic's `__getattr__` keeps Python
    from specializing the read), `close_ts` a half, and a candle takes half the memory (260 bytes
    against 516). It checks itself as the model did: prices finite, above 0 and below
    MAX_MARKET_NUMBER, volume from 0 up to it, open and close within [low, high]. Values of the exact
    types pass in a few compares; anything else (an int price, a numeric string, a bad value) is handed
    to `_CandleFields`, the former model, which converts what it may and raises pydantic's
    ValidationError naming the field otherwise. Inside a message a candle is validated and serialized
    by pydantic field for field, as before. The methods `model_dump`, `model_copy`, `model_validate`
    and `model_construct` keep the model's API.
    """

    symbol: str
    ts: int
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Volume
    timeframe_s: int = 60

    def __post_init__(self) -> None:
        low, high = self.low, self.high
        if not (
            type(low) is float
            and type(high) is float
            and type(self.open) is float
            and type(self.close) is float
            and type(self.volume) is float
            and type(self.ts) is int
            and type(self.timeframe_s) is int
            and type(self.symbol) is str
            and 0.0 < low <= self.open <= high < MAX_MARKET_NUMBER
            and low <= self.close <= high
            and 0.0 <= self.volume < MAX_MARKET_NUMBER
        ):
            _set_fields(self, _CandleFields(**_fields_of(self)).__dict__)

    @property
    def close_ts(self) -> int:
        return self.ts + self.timeframe_s

    # -- the pydantic model's API, for code written against it --------------------------------------------
    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        """The fields as a dict (every field is a str, an int or a float: the same in "json" mode)."""
        return _fields_of(self)

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Candle:
        """A copy with the fields in `update` replaced, not checked (as pydantic's `model_copy`; `replace`
        from dataclasses makes a checked one)."""
        return Candle.model_construct(**{**_fields_of(self), **update}) if update else self

    @classmethod
    def model_validate(cls, obj: Any) -> Candle:
        """A candle from a mapping of its fields (or a candle, as it is)."""
        if isinstance(obj, Candle):
            return obj
        if not isinstance(obj, Mapping):
            raise TypeError(f"a candle is made from a mapping of its fields, got {type(obj).__name__}")
        return cls(**obj)

    @classmethod
    def model_construct(cls, **values: Any) -> Candle:
        """A candle of values known good, not checked (a loader that checked them already; a test)."""
        candle = object.__new__(cls)
        _set_fields(candle, {"timeframe_s": 60, **values})
        return candle


CANDLE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Candle))
_SETTERS = tuple((name, getattr(Candle, name).__set__) for name in CANDLE_FIELDS)


def _fields_of(candle: Candle) -> dict[str, Any]:
    return {name: getattr(candle, name) for name in CANDLE_FIELDS}


def _set_fields(candle: Candle, values: Mapping[str, Any]) -> None:
    """Set a candle's fields (a frozen dataclass: through the slots themselves). KeyError: one is missing."""
    if extra := set(values) - set(CANDLE_FIELDS):
        raise TypeError(f"a candle has no field {', '.join(sorted(extra))}")
    for name, put in _SETTERS:
        put(candle, values[name])


Candle.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]  # in a message: unknown fields refused


class _CandleFields(Frozen):
    """What a candle must hold, as a pydantic model: Candle's check for anything its fast compares do
    not pass (converting ints and numeric strings as pydantic does, refusing the rest by field)."""

    symbol: str
    ts: int
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Volume
    timeframe_s: int = 60

    @model_validator(mode="after")
    def _consistent(self) -> _CandleFields:
        if self.high < self.low:
            raise ValueError(f"high {self.high} is below low {self.low}")
        if not (self.low <= self.open <= self.high and self.low <= self.close <= self.high):
            raise ValueError("open and close must lie within [low, high]")
        return self

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, title="Candle")


class Quote(Frozen):
    """A venue's last observed price for a symbol, used by the arbitrage agent."""

    venue: str
    symbol: str
    price: Price
    ts: int


@dataclass(slots=True)
class AgentScore:
    """One agent's opinion: a signal in [-1, 1] (sell .. buy), how sure it is, and why.

    Every agent makes one per candle, so this record is a slotted dataclass rather than a pydantic
    model (a third of the cost to build, and its fields are read several times a bar): it checks its
    own values (ints become floats; anything else out of range or of the wrong type is refused with a
    ValueError naming the field), and like the stage messages it is never changed once made. Inside a
    message it is validated and serialized by pydantic as a field-for-field object, as before.
    """

    agent: str
    signal: Signal
    confidence: Unit
    reason: str

    def __post_init__(self) -> None:
        s, c = self.signal, self.confidence
        if not (
            type(s) is float
            and type(c) is float
            and -1.0 <= s <= 1.0
            and 0.0 <= c <= 1.0
            and type(self.agent) is str
            and type(self.reason) is str
        ):
            self._coerce()

    def _coerce(self) -> None:
        """The rare path: whole numbers become floats; anything else out of place is refused."""
        for name, low in (("signal", -1.0), ("confidence", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= 1.0:
                raise ValueError(f"agent {self.agent!r}: {name} must be a number from {low:g} to 1, got {value!r}")
            setattr(self, name, float(value))
        for name in ("agent", "reason"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"agent score: {name} must be a string, got {getattr(self, name)!r}")

    @property
    def abstains(self) -> bool:
        return self.confidence == 0.0


class Vote(Frozen):
    """An agent's score as the committee weighed it."""

    agent: str
    signal: Signal
    confidence: Unit
    weight: NonNegative
    reason: str


class Decision(Frozen):
    """What the committee decided for one symbol in one cycle: the audit trail of every vote."""

    decision_id: str
    cycle_id: str
    symbol: str
    ts: int
    action: Action
    signal: Signal
    confidence: Unit
    votes: tuple[Vote, ...]
    reason: str
    market_state: str = ""
    from_cache: bool = False


class OrderIntent(Frozen):
    """A request to trade, before risk. `intent_id` doubles as the venue's client order id.

    Exactly one of `notional` (quote currency), `quantity` (base units) or `fraction` sizes it.
    `fraction` is resolved when the order fills: for a buy, the share of the cash then available
    (fees included); for a sell, the share of the position then held.
    """

    intent_id: str
    symbol: str
    side: Side
    notional: Positive | None = None
    quantity: Positive | None = None
    fraction: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    reference_price: Positive
    ts: int
    source: Literal["committee", "manual"] = "committee"
    decision_id: str | None = None
    exit_reason: ExitReason | None = None

    @model_validator(mode="after")
    def _one_size(self) -> OrderIntent:
        given = [x for x in (self.notional, self.quantity, self.fraction) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of notional, quantity or fraction")
        return self

    def estimated_notional(self, cash: float, held: float) -> float:
        """The order's size in quote currency at the reference price, given the cash and position now."""
        if self.notional is not None:
            return self.notional
        if self.quantity is not None:
            return self.quantity * self.reference_price
        base = cash if self.side is Side.BUY else held * self.reference_price
        return base * (self.fraction or 0.0)


class OrderStatus(StrEnum):
    PENDING = "pending"
    FILLED = "filled"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Order(Frozen):
    """An order as the broker holds it. `client_order_id` is the intent's id: the idempotency key."""

    client_order_id: str
    symbol: str
    side: Side
    notional: float | None = None
    quantity: float | None = None
    fraction: float | None = None
    placed_ts: int
    status: OrderStatus = OrderStatus.PENDING
    note: str = ""


class Fill(Frozen):
    """An executed trade. `price` includes slippage; `fee` is in quote currency."""

    fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: Positive
    price: Positive
    fee: NonNegative
    ts: int
    note: str = ""
    exit_reason: ExitReason | None = None

    @property
    def notional(self) -> float:
        return self.quantity * self.price


class Position(Frozen):
    """Holdings of one symbol, derived by folding fills (average-cost accounting)."""

    symbol: str
    quantity: NonNegative = 0.0
    avg_cost: NonNegative = 0.0
    realized_pnl: float = 0.0
    fees: NonNegative = 0.0


class RiskRejection(Frozen):
    """An intent refused by risk, stored with the reason."""

    intent_id: str
    symbol: str
    side: Side
    reason: str
    ts: int
    decision_id: str | None = None


class AccountOpened(Frozen):
    kind: Literal["account_opened"] = "account_opened"
    cash: NonNegative
    ts: int


class FillRecorded(Frozen):
    kind: Literal["fill"] = "fill"
    fill: Fill


LedgerPayload = Annotated[AccountOpened | FillRecorded, Field(discriminator="kind")]


class LedgerEvent(Frozen):
    """One entry of the append-only ledger. `seq` starts at 1 and rises by exactly 1 per stream."""

    stream: str
    seq: Annotated[int, Field(ge=1)]
    event_id: str
    payload: LedgerPayload

    @property
    def ts(self) -> int:
        p = self.payload
        return p.ts if isinstance(p, AccountOpened) else p.fill.ts
