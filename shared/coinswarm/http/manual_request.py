"""The manual trade endpoint's request body, as strict pydantic models (no extra field, no null, no
coercion): a trade (exactly one of `notional` and `quantity`), a cycle run, or one of the owner's
actions (coinswarm.http.owner_actions), told apart by `action`.

`request_validator()` builds the validator on first use, not at import: a cold start pays for it on
the first request.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from coinswarm.config.settings import SYMBOL_RE
from coinswarm.http.owner_actions import (
    OWNER_ACTIONS,
    FlattenRequest,
    KillSwitchRequest,
    OwnerRequest,
    PauseRequest,
    ResumeRequest,
)

MAX_NOTIONAL = 1_000_000.0  # quote currency: far above any paper account, far below float trouble
MAX_QUANTITY = 1e12  # base units: room for coins priced in millionths of a dollar
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,24}$"

Amount = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


_OPTIONAL = ("notional", "quantity", "client_id")


def _optional_not_null(schema: dict[str, Any]) -> None:
    """The schema as the model reads it: optional fields may be left out but are never null, and a
    trade has exactly one amount."""
    properties: dict[str, Any] = schema["properties"]
    for name in _OPTIONAL:
        prop = properties[name]
        (kept,) = [s for s in prop.pop("anyOf") if s.get("type") != "null"]
        prop.pop("default", None)
        prop.update(kept)
    schema["oneOf"] = [{"required": ["notional"]}, {"required": ["quantity"]}]


class TradeRequest(BaseModel):
    """Buy or sell now, at the next price the broker observes, through risk like any order."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        defer_build=True,
        title="TradeRequest",
        json_schema_extra=_optional_not_null,
    )

    action: Literal["trade"]
    symbol: Annotated[str, Field(pattern=SYMBOL_RE.pattern, description="BASE-QUOTE, upper case", examples=["BTC-USD"])]
    side: Literal["buy", "sell"]
    notional: Annotated[Amount, Field(le=MAX_NOTIONAL, description="size in the quote currency")] | None = None
    quantity: Annotated[Amount, Field(le=MAX_QUANTITY, description="size in base units")] | None = None
    client_id: (
        Annotated[
            str,
            Field(
                pattern=CLIENT_ID_PATTERN,
                description="your id for this trade: a request repeated with the same client_id places one order",
            ),
        ]
        | None
    ) = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = [k for k in _OPTIONAL if k in data and data[k] is None]
            if nulls:
                raise ValueError(f"leave {' and '.join(nulls)} out rather than sending null")
        return data

    @model_validator(mode="after")
    def _one_amount(self) -> TradeRequest:
        if (self.notional is None) == (self.quantity is None):
            raise ValueError("give exactly one of notional (quote currency) and quantity (base units)")
        return self


class RunCycleRequest(BaseModel):
    """Run one trading cycle now rather than at the next scheduled tick."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True, title="RunCycleRequest")

    action: Literal["run_cycle"]


ManualRequest = Annotated[
    TradeRequest | RunCycleRequest | PauseRequest | ResumeRequest | KillSwitchRequest | FlattenRequest,
    Field(discriminator="action"),
]


@functools.cache
def request_validator() -> TypeAdapter[TradeRequest | RunCycleRequest | OwnerRequest]:
    """The body's validator, built on first use (the first request), not at import."""
    return TypeAdapter(ManualRequest)


ACTIONS = ("trade", "run_cycle", *OWNER_ACTIONS)
ACTION_LIST = ", ".join(f"'{a}'" for a in ACTIONS)
