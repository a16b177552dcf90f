"""The typed messages that travel between stages (and, in mesh wiring, over queues between clouds)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from coinswarm.domain.models import (
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


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cycle_id: str


class CycleTick(Message):
    """The schedule fired: run a cycle for these symbols as of `ts`."""

    ts: int
    symbols: tuple[str, ...]


class CandlesReady(Message):
    """New closed candles for one symbol (oldest first; the last is the one to act on)."""

    symbol: str
    candles: tuple[Candle, ...]
    quotes: tuple[Quote, ...] = ()
    gaps: tuple[str, ...] = ()


class ScoresReady(Message):
    symbol: str
    candle: Candle
    settle_price: float
    settle_ts: int
    scores: tuple[AgentScore, ...]
    market_state: str
    gaps: tuple[str, ...] = ()


class DecisionReady(Message):
    """The committee's decision; `intent` is set when it acts. `settle_*` is the first price observed
    this cycle (the first new candle's open): where pending paper orders fill."""

    decision: Decision
    intent: OrderIntent | None = None
    settle_price: float
    settle_ts: int
    mark_price: float


class PlacementDone(Message):
    """What order placement did: fills of earlier orders, the order placed now, or why not."""

    symbol: str
    fills: tuple[Fill, ...] = ()
    refused_by_venue: tuple[Order, ...] = ()
    order: Order | None = None
    rejection: RiskRejection | None = None
    note: str = ""
    mark_price: float


class TradesLogged(Message):
    symbol: str
    appended: int
    duplicates: int
    seq: int
