"""The typed messages that travel between stages (and, in mesh wiring, over queues between clouds).

Messages are slotted dataclasses: a backtest passes several per bar, and building them must cost
next to nothing. The records they carry (Candle, Decision, ...) are pydantic models, validated
where they are made (AgentScore, one per agent and candle, is a slotted dataclass that checks
itself). Where a message crosses a process boundary it is JSON text, and `decode` parses it back
with full pydantic validation (`encode` / `decode` below, one cached TypeAdapter per message type),
so a malformed body is refused at the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ConfigDict, TypeAdapter, ValidationError

from coinswarm.domain.models import (
    Action,
    AgentScore,
    Candle,
    Decision,
    Fill,
    Order,
    OrderIntent,
    Quote,
    RiskRejection,
)

TICK = "tick"
CANDLES = "candles"
SCORES = "scores"
DECISIONS = "decisions"
PLACEMENTS = "placements"
LOGGED = "logged"

STRICT = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class CycleTick:
    """The schedule fired: run a cycle for these symbols as of `ts` (the close of the newest candle wanted).

    `decide_each`: decide at every new candle's close, as a backtest or a replay does; by default
    (a live cycle) the agents take in every new candle but only the newest is decided on, since an
    order for a candle that closed minutes ago would be late."""

    cycle_id: str
    ts: int
    symbols: tuple[str, ...]
    decide_each: bool = False


@dataclass(frozen=True, slots=True)
class CandlesReady:
    """New closed candles for one symbol, oldest first."""

    cycle_id: str
    symbol: str
    candles: tuple[Candle, ...]
    quotes: tuple[Quote, ...] = ()
    gaps: tuple[str, ...] = ()
    decide_each: bool = False


# The two per-candle records below are built once per bar in a backtest: they are plain slotted
# dataclasses (a frozen one costs a microsecond more to build) and, like every message, never mutated.
@dataclass(slots=True)
class ScoredCandle:
    """Every agent's score at one candle's close. `settle_*`: the first price observed in the cycle
    that decides on this candle (that cycle's first new candle's open), where pending orders fill."""

    candle: Candle
    scores: tuple[AgentScore, ...]
    market_state: str
    settle_price: float
    settle_ts: int


@dataclass(frozen=True, slots=True)
class ScoresReady:
    cycle_id: str
    symbol: str
    scored: tuple[ScoredCandle, ...]
    gaps: tuple[str, ...] = ()


@dataclass(slots=True)
class DecidedStep:
    """One decision point: the verdict, the intent when it acts, where earlier orders settle.

    `decision` is the full audit record (every vote and reason). A long replay may leave it None on a
    hold that the history store would not keep anyway (see HistoryStore.decision_retention).
    `candle`: the candle decided on, whose high and low the exit rules check an open position against."""

    ts: int
    action: Action
    confidence: float
    settle_price: float
    settle_ts: int
    mark_price: float
    decision: Decision | None = None
    intent: OrderIntent | None = None
    candle: Candle | None = None


@dataclass(frozen=True, slots=True)
class DecisionReady:
    cycle_id: str
    symbol: str
    steps: tuple[DecidedStep, ...]


@dataclass(frozen=True, slots=True)
class PlacementDone:
    """What order placement did in the cycle: fills of earlier orders, orders placed, refusals."""

    cycle_id: str
    symbol: str
    mark_price: float
    fills: tuple[Fill, ...] = ()
    refused_by_venue: tuple[Order, ...] = ()
    orders: tuple[Order, ...] = ()
    rejections: tuple[RiskRejection, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TradesLogged:
    cycle_id: str
    symbol: str
    appended: int
    duplicates: int
    seq: int


for _kind in (
    CycleTick,
    CandlesReady,
    ScoredCandle,
    ScoresReady,
    DecidedStep,
    DecisionReady,
    PlacementDone,
    TradesLogged,
):
    _kind.__pydantic_config__ = STRICT  # type: ignore[union-attr]  # unknown fields in a body are refused

Message = CycleTick | CandlesReady | ScoresReady | DecisionReady | PlacementDone | TradesLogged
M = TypeVar("M", CycleTick, CandlesReady, ScoresReady, DecisionReady, PlacementDone, TradesLogged)


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def encode(message: Message) -> str:
    """The message as JSON text, as it travels on a queue."""
    return _adapter(type(message)).dump_json(message).decode()


def decode(kind: type[M], body: str | bytes) -> M:
    """Parse and validate a message of `kind` from JSON; raises pydantic's ValidationError if malformed."""
    message: M = _adapter(kind).validate_json(body)
    return message


def problems(exc: ValidationError) -> str:
    """What `decode` found wrong, for an error message: up to five `field.path: what is wrong`, each path
    part cut to 32 characters, and never the value that was sent."""
    return "; ".join(f"{'.'.join(str(p)[:32] for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors()[:5])


def worth_logging(msg: PlacementDone) -> bool:
    """Whether trade logging has anything to do with `msg`: only fills reach the ledger. Orders placed, risk
    refusals and venue refusals are recorded where they happen (the broker's book, the history); a
    deployment need not hand on a PlacementDone without a fill (the AWS functions do not)."""
    return bool(msg.fills)
