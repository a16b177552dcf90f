"""What the venue clients return: the same typed records for both venues, in the venue's own symbols.

Prices and sizes are floats (as in the domain); a request's sizes are written to the venue as exact
decimal strings (`decimal_text`). Times are epoch seconds (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Literal

from coinswarm.domain.models import Side


class VenueOrderStatus(StrEnum):
    OPEN = "open"  # accepted and working (possibly partly filled: see `filled_size`)
    FILLED = "filled"
    CANCELLED = "cancelled"  # cancelled by us or by the venue (an IOC remainder), possibly partly filled
    EXPIRED = "expired"
    REJECTED = "rejected"
    PENDING = "pending"  # accepted, not yet working
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {VenueOrderStatus.FILLED, VenueOrderStatus.CANCELLED, VenueOrderStatus.EXPIRED, VenueOrderStatus.REJECTED}
)
OrderKind = Literal["market", "limit", "stop_limit"]


def decimal_text(value: float | Decimal | str, what: str = "value") -> str:
    """A positive number as the plain decimal string venues expect (`1e-05` -> `0.00001`)."""
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not d.is_finite() or d <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    text = format(d.normalize(), "f")
    return text


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order to place. `client_order_id` is the idempotency key (the intent id).

    A market order is sized by `base_size` or (buys on Coinbase, and Binance's `quoteOrderQty`) by
    `quote_size`; a limit order by `base_size` at `limit_price`; a stop-limit order (a protective sell
    resting at the venue, good until cancelled) by `base_size`: when the price falls to `stop_price` it
    becomes a limit order at `limit_price`.
    """

    client_order_id: str
    symbol: str
    side: Side
    kind: OrderKind = "market"
    base_size: float | Decimal | str | None = None
    quote_size: float | Decimal | str | None = None
    limit_price: float | Decimal | str | None = None
    post_only: bool = False
    stop_price: float | Decimal | str | None = None

    def __post_init__(self) -> None:
        if not self.client_order_id or len(self.client_order_id) > 64:
            raise ValueError("client_order_id must be 1 to 64 characters")
        if (self.base_size is None) == (self.quote_size is None):
            raise ValueError("give exactly one of base_size or quote_size")
        if self.kind == "stop_limit":
            if self.limit_price is None or self.base_size is None or self.stop_price is None:
                raise ValueError("a stop-limit order needs base_size, limit_price and stop_price")
            decimal_text(self.limit_price, "limit_price")
            decimal_text(self.stop_price, "stop_price")
        elif self.stop_price is not None:
            raise ValueError("only a stop-limit order takes a stop_price")
        if self.kind == "limit":
            if self.limit_price is None or self.base_size is None:
                raise ValueError("a limit order needs base_size and limit_price")
            decimal_text(self.limit_price, "limit_price")
        elif self.kind == "market" and self.limit_price is not None:
            raise ValueError("a market order takes no limit_price")
        decimal_text(self.base_size if self.base_size is not None else self.quote_size or 0, "size")


@dataclass(frozen=True, slots=True)
class VenueOrder:
    venue: str
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    kind: str
    status: VenueOrderStatus
    base_size: float | None = None
    quote_size: float | None = None
    limit_price: float | None = None
    filled_size: float = 0.0
    average_price: float | None = None
    fees: float = 0.0
    created_ts: int = 0
    venue_status: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class VenueFill:
    venue: str
    trade_id: str
    order_id: str
    symbol: str
    side: Side
    price: float
    size: float
    fee: float
    fee_asset: str
    ts: int
    maker: bool = False


@dataclass(frozen=True, slots=True)
class BookTop:
    """The best bid and ask. `ts` is the venue's time for it (or when it was read, when the venue gives none)."""

    venue: str
    symbol: str
    bid: float
    bid_size: float
    ask: float
    ask_size: float
    ts: int

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class OrderBook:
    venue: str
    symbol: str
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    ts: int


@dataclass(frozen=True, slots=True)
class Ticker:
    venue: str
    symbol: str
    price: float
    bid: float | None
    ask: float | None
    ts: int


@dataclass(frozen=True, slots=True)
class KeyPermissions:
    """What the venue says a key may do. A key that can withdraw or transfer must be refused for trading."""

    venue: str
    can_view: bool
    can_trade: bool
    can_withdraw: bool
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderPreview:
    venue: str
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    order_total: float | None
    commission_total: float | None
    best_bid: float | None
    best_ask: float | None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class CancelResult:
    order_id: str
    ok: bool
    reason: str = ""
