"""The manual trade endpoint, free of any web framework: `ManualTradeHandler.handle(HttpRequest)`.

A POST with a JSON body asks for one of two things:

    {"action": "trade", "symbol": "BTC-USD", "side": "buy", "notional": 100.0, "client_id": "my-order-1"}
    {"action": "run_cycle"}

and the owner's controls, `pause`, `resume`, `kill_switch` and `flatten` (coinswarm.http.owner_actions).

A trade gives exactly one of `notional` (quote currency) or `quantity` (base units). It becomes an
OrderIntent (source "manual") priced at the symbol's latest stored close, goes through risk and is placed
at most once per intent id: the id comes from `client_id` when given, so a retry of the same trade is
the same order; without one, from the authenticated request's signature (a new trade per request).

The checks run in this order, and each refusal is a JSON `{"error": code, "detail": text}`:
405 not POST; 413 body too large (before anything reads it); 401 not authenticated; 415 not JSON;
400 unreadable JSON; 422 a body that breaks the schema, an unknown symbol, a trade too large, or a
refusal by risk; 409 a client_id handled already without an order, or reused for a different trade;
then 202 placed (or cycle run) and 200 for a repeat of a placed trade. 503: the store is busy, or (for
run_cycle) the market data could not be read, the cause named; retry.
Anything unexpected is a 500 with a generic body, logged without the request's headers or body.
`OPENAPI` (`openapi()`) describes all of it. Neither the request's validator nor that description is
built at import: a cold start pays for them on the first request (the validator) or never (the
description, which only tools and tests read).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from coinswarm.config.settings import SYMBOL_RE
from coinswarm.domain.models import Order, OrderIntent, RiskRejection, Side
from coinswarm.errors import (
    ClaimInProgressError,
    CoinswarmError,
    ConflictError,
    MarketDataUnavailableError,
    TransientStoreError,
)
from coinswarm.http.json_http import JSON_TYPE, HttpRequest, HttpResponse, error, respond, sent_as_json
from coinswarm.http.owner_actions import (
    OWNER_ACTION_DONE,
    OWNER_ACTIONS,
    FlattenRequest,
    KillSwitchRequest,
    OwnerControls,
    OwnerRequest,
    PauseRequest,
    ResumeRequest,
)
from coinswarm.http.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Authenticated,
    Authenticator,
    AuthError,
)
from coinswarm.ports.clock import Clock
from coinswarm.ports.state import StateStore

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096
MAX_NOTIONAL = 1_000_000.0  # quote currency: far above any paper account, far below float trouble
MAX_QUANTITY = 1e12  # base units: room for coins priced in millionths of a dollar
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,24}$"
MARKET_RETRY_AFTER_S = 30  # an unreachable market data source is rarely back within a second
_MAX_LOC, _MAX_MSG, _MAX_ERRORS = 64, 200, 20


# -- the request and the response ------------------------------------------------------------------


# -- the body --------------------------------------------------------------------------------------

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
def _request() -> TypeAdapter[TradeRequest | RunCycleRequest | OwnerRequest]:
    """The body's validator, built on first use (the first request), not at import."""
    return TypeAdapter(ManualRequest)


_ACTIONS = ("trade", "run_cycle", *OWNER_ACTIONS)
_ACTION_LIST = ", ".join(f"'{a}'" for a in _ACTIONS)


class BadJsonError(CoinswarmError, ValueError):
    http_status = 400
    pass


def _refuse_constant(name: str) -> Any:
    raise BadJsonError(f"{name} is not a number JSON allows")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise BadJsonError("a key appears twice in one object")
    return obj


def _parse_json(body: bytes) -> Any:
    """The body as JSON; BadJsonError with a short, input-free reason when it is not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJsonError("the body is not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicates)
    except BadJsonError:
        raise
    except json.JSONDecodeError as exc:
        raise BadJsonError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadJsonError("the JSON is nested too deeply") from None
    except ValueError:  # e.g. an integer longer than Python will convert
        raise BadJsonError("a value in the JSON cannot be read") from None


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Where each error is and what is wrong, never the value that was sent."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False)[:_MAX_ERRORS]:
        loc = [str(part)[:_MAX_LOC] for part in err["loc"]]
        if len(loc) >= 1 and loc[0] in _ACTIONS:  # the union's tag, not a field
            loc = loc[1:]
        kind = err["type"]
        if kind == "union_tag_invalid":
            msg = f"action must be one of {_ACTION_LIST}"
            loc = ["action"]
        elif kind == "union_tag_not_found":
            msg = f"give an action: one of {_ACTION_LIST}"
            loc = ["action"]
        elif kind == "model_attributes_type":
            msg = "the body must be a JSON object"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            sent = err.get("input")
            if isinstance(sent, str) and len(sent) >= 3 and sent in msg:
                msg = f"invalid value ({kind})"
        out.append({"loc": ".".join(loc) or "body", "msg": msg[:_MAX_MSG], "type": kind})
    return out


# -- what the handler is given ---------------------------------------------------------------------


class PlacementResult(Protocol):
    """What placing one intent came to (coinswarm.stages.placement.Placed)."""

    @property
    def order(self) -> Order | None: ...

    @property
    def rejection(self) -> RiskRejection | None: ...

    @property
    def note(self) -> str: ...

    @property
    def duplicate(self) -> bool: ...


Place = Callable[[OrderIntent], PlacementResult]
PriceOf = Callable[[str], float | None]


def stored_close(state: StateStore, timeframe_s: int) -> PriceOf:
    """`price_of` from the state store: the close of the newest stored candle of the symbol."""

    def price_of(symbol: str) -> float | None:
        candles = state.recent_candles(symbol, timeframe_s, 1)
        return candles[-1].close if candles else None

    return price_of


# -- the handler -----------------------------------------------------------------------------------


class ManualTradeHandler:
    def __init__(
        self,
        place: Place,
        run_cycle: Callable[[], dict[str, Any]],
        clock: Clock,
        auth: Authenticator,
        *,
        price_of: PriceOf,
        max_body_bytes: int = MAX_BODY_BYTES,
        controls: OwnerControls | None = None,
    ) -> None:
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, got {max_body_bytes}")
        self.place = place
        self.run_cycle = run_cycle
        self.clock = clock
        self.auth = auth
        self.price_of = price_of
        self.max_body_bytes = max_body_bytes
        self.controls = controls

    def handle(self, request: HttpRequest) -> HttpResponse:
        try:
            return self._handle(request)
        except (ConflictError, TransientStoreError) as exc:
            logger.warning("manual trade: the store is busy (%s); asked the client to retry", type(exc).__name__)
            doing = (
                "this client_id is still being placed by another request"
                if isinstance(exc, ClaimInProgressError)
                else "the store is busy"
            )
            return error(
                503,
                "busy",
                f"{doing}; retry in a moment (with the same client_id a trade is still placed once)",
                headers={"Retry-After": "1"},
            )
        except MarketDataUnavailableError as exc:
            logger.warning("manual trade: the market data is unavailable (%s)", exc.reason)
            return error(
                503,
                "market_data_unavailable",
                f"the market data could not be read: {exc.reason[:_MAX_MSG]}. Nothing was traded; check that this "
                "deployment reaches its market data source (market.source), then retry",
                headers={"Retry-After": str(MARKET_RETRY_AFTER_S)},
            )
        except Exception as exc:
            # Never the request's headers or body: they carry the credentials.
            logger.error("manual trade: unexpected %s", type(exc).__name__, exc_info=True)
            return error(
                500,
                "internal_error",
                "the request could not be completed; nothing about it was wrong that we know of. "
                "Check the function's logs, then retry (with the same client_id a trade is placed once)",
            )

    def _handle(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return error(405, "method_not_allowed", "use POST with a JSON body", headers={"Allow": "POST"})
        body = bytes(request.body)
        if len(body) > self.max_body_bytes:
            return error(
                413,
                "body_too_large",
                f"the body is {len(body)} bytes; the limit is {self.max_body_bytes}",
            )
        try:
            who = self.auth.authenticate(request.method, request.path, request.headers, body)
        except AuthError as exc:
            logger.warning("manual trade: not authenticated (%s)", exc.reason)
            return error(
                401,
                "unauthorized",
                f"{exc.reason}: sign the request with a configured secret and the current time "
                f"({TIMESTAMP_HEADER}, {SIGNATURE_HEADER}), or send the configured bearer token",
                headers={"WWW-Authenticate": self.auth.challenge},
            )
        if not sent_as_json(request):
            return error(415, "unsupported_media_type", f"send the body as JSON with Content-Type: {JSON_TYPE}")
        try:
            data = _parse_json(body)
        except BadJsonError as exc:
            return error(400, "invalid_json", f"the body is not valid JSON: {exc}")
        try:
            command = _request().validate_python(data)
        except ValidationError as exc:
            fields = _field_errors(exc)
            first = fields[0]
            return error(
                422,
                "invalid_request",
                f"{first['loc']}: {first['msg']}. Fix the fields listed in `fields` (the OpenAPI description "
                "has the schema) and send again",
                extra={"fields": fields},
            )
        if not isinstance(command, TradeRequest | RunCycleRequest):
            if self.controls is None:
                return error(501, "not_available", f"{command.action}: this endpoint has no owner controls wired")
            return self.controls.handle(command)
        if isinstance(command, RunCycleRequest):
            result = self.run_cycle()
            logger.info("manual trade: ran a cycle on request")
            return respond(202, {"action": "run_cycle", "result": result})
        return self._trade(command, who)

    def _trade(self, command: TradeRequest, who: Authenticated) -> HttpResponse:
        price = self.price_of(command.symbol)
        if price is None or not math.isfinite(price) or price <= 0.0:
            return error(
                422,
                "unknown_symbol",
                f"no recent price for {command.symbol}: trade a configured symbol, once a cycle has stored its candles",
            )
        estimate = command.notional if command.notional is not None else (command.quantity or 0.0) * price
        if estimate > MAX_NOTIONAL:
            return error(
                422,
                "too_large",
                f"about {estimate:,.2f} at the last price {price:g}; a manual trade is at most {MAX_NOTIONAL:,.0f}",
            )
        intent = OrderIntent(
            intent_id=_intent_id(command.client_id, who),
            symbol=command.symbol,
            side=Side(command.side),
            notional=command.notional,
            quantity=command.quantity,
            reference_price=price,
            ts=self.clock.now(),
            source="manual",
        )
        placed = self.place(intent)
        if placed.rejection is not None:
            logger.info("manual trade: %s refused by risk: %s", intent.intent_id, placed.rejection.reason)
            return error(422, "refused_by_risk", placed.rejection.reason, extra={"client_order_id": intent.intent_id})
        order = placed.order
        if order is None:
            if placed.duplicate:
                return error(
                    409,
                    "already_handled",
                    f"client_id {command.client_id or '(none)'} was handled already and placed no order (risk "
                    "refused it); send a new client_id to trade again",
                )
            raise RuntimeError("placement returned neither an order nor a refusal")
        if placed.duplicate and (order.symbol, order.side) != (intent.symbol, intent.side):
            return error(
                409,
                "client_id_conflict",
                f"client_id {command.client_id} was used for a {order.side.value} of {order.symbol}; "
                "send a new client_id for a different trade",
            )
        logger.info(
            "manual trade: %s %s %s -> %s%s",
            intent.side.value,
            intent.symbol,
            intent.intent_id,
            order.status.value,
            " (a repeat)" if placed.duplicate else "",
        )
        body: dict[str, Any] = {
            "client_order_id": order.client_order_id,
            "status": order.status.value,
            "symbol": order.symbol,
            "side": order.side.value,
            "notional": order.notional,
            "quantity": order.quantity,
            "duplicate": placed.duplicate,
            "note": placed.note,
        }
        if not placed.duplicate:  # a repeat's order was sized at the price of its first request, not this one
            body["reference_price"] = price
        return respond(200 if placed.duplicate else 202, body)


def _intent_id(client_id: str | None, who: Authenticated) -> str:
    """Venue-safe and at most 30 characters. From the client's id when given: the same trade, the same
    id. Otherwise from this request (its signature), or at random when the scheme names no request."""
    if client_id is not None:
        return f"cs-mc-{client_id}"
    unique = who.request_id or uuid.uuid4().hex
    return f"cs-ma-{hashlib.sha256(unique.encode()).hexdigest()[:24]}"


# -- the OpenAPI description ---------------------------------------------------------------------


@functools.cache
def openapi() -> dict[str, Any]:
    """The endpoint's OpenAPI 3.1 description (built once, on first use; treat it as read-only)."""
    request_schema = _request().json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(request_schema.pop("$defs", {}))
    schemas["ManualRequest"] = request_schema
    schemas["Error"] = {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "a short, stable code"},
            "detail": {"type": "string", "description": "what was wrong and what to do"},
            "fields": {
                "type": "array",
                "description": "with invalid_request: each field in error (values are never echoed)",
                "items": {
                    "type": "object",
                    "required": ["loc", "msg", "type"],
                    "properties": {"loc": {"type": "string"}, "msg": {"type": "string"}, "type": {"type": "string"}},
                },
            },
            "client_order_id": {"type": "string"},
        },
    }
    schemas["Placed"] = {
        "type": "object",
        "required": ["client_order_id", "status", "symbol", "side", "duplicate"],
        "properties": {
            "client_order_id": {"type": "string", "description": "the order's id at the broker"},
            "status": {"type": "string", "enum": ["pending", "filled", "rejected", "cancelled"]},
            "symbol": {"type": "string"},
            "side": {"type": "string", "enum": ["buy", "sell"]},
            "notional": {"type": ["number", "null"]},
            "quantity": {"type": ["number", "null"]},
            "reference_price": {
                "type": "number",
                "description": "the latest stored close the trade was sized at (not on a repeat)",
            },
            "duplicate": {"type": "boolean", "description": "true: this client_id's order, placed earlier"},
            "note": {"type": "string"},
        },
    }
    schemas["OwnerActionDone"] = OWNER_ACTION_DONE
    schemas["CycleRun"] = {
        "type": "object",
        "required": ["action", "result"],
        "properties": {"action": {"const": "run_cycle"}, "result": {"type": "object"}},
    }

    def error(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }

    def ok(description: str, schema: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {JSON_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }

    header = {"required": False, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Coinswarm manual trade endpoint",
            "version": "1",
            "description": (
                "Place a paper (or, when configured, live) trade by hand, or run a trading cycle now. Every "
                "trade passes the same risk checks as the committee's. Sign each request: "
                f"{TIMESTAMP_HEADER} is the unix time in seconds, {SIGNATURE_HEADER} is "
                '"v1=" + hex(HMAC-SHA256(secret, f"{timestamp}.{METHOD}.{path}.".encode() + body)); '
                "requests older or newer than 300 s, or seen before, are refused. Or, where configured, "
                "send Authorization: Bearer <token>."
            ),
        },
        "paths": {
            "/": {
                "post": {
                    "operationId": "manualTrade",
                    "summary": "Trade by hand, or run a cycle now",
                    "parameters": [
                        {
                            "name": TIMESTAMP_HEADER,
                            "in": "header",
                            **header,
                            "description": "unix seconds (signed requests)",
                        },
                        {
                            "name": SIGNATURE_HEADER,
                            "in": "header",
                            **header,
                            "description": "v1=<hex hmac-sha256> (signed requests)",
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON_TYPE: {
                                "schema": {"$ref": "#/components/schemas/ManualRequest"},
                                "examples": {
                                    "buy": {
                                        "value": {
                                            "action": "trade",
                                            "symbol": "BTC-USD",
                                            "side": "buy",
                                            "notional": 100.0,
                                            "client_id": "my-buy-1",
                                        }
                                    },
                                    "sell": {
                                        "value": {
                                            "action": "trade",
                                            "symbol": "BTC-USD",
                                            "side": "sell",
                                            "quantity": 0.01,
                                        }
                                    },
                                    "run_cycle": {"value": {"action": "run_cycle"}},
                                },
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "a repeat of a trade placed earlier with this client_id (the same "
                            "order), or what an owner's action (pause, resume, kill_switch, flatten) did",
                            "content": {
                                JSON_TYPE: {
                                    "schema": {
                                        "oneOf": [
                                            {"$ref": "#/components/schemas/Placed"},
                                            {"$ref": "#/components/schemas/OwnerActionDone"},
                                        ]
                                    }
                                }
                            },
                        },
                        "202": {
                            "description": "the order is placed (it fills at the next price seen), or the cycle ran",
                            "content": {
                                JSON_TYPE: {
                                    "schema": {
                                        "oneOf": [
                                            {"$ref": "#/components/schemas/Placed"},
                                            {"$ref": "#/components/schemas/CycleRun"},
                                        ]
                                    }
                                }
                            },
                        },
                        "400": error("invalid_json: the body is not JSON"),
                        "401": error("unauthorized: missing, stale, replayed or wrong credentials"),
                        "405": error("method_not_allowed: only POST"),
                        "409": error("already_handled or client_id_conflict: use a new client_id"),
                        "413": error(
                            f"body_too_large: over the limit ({MAX_BODY_BYTES} bytes unless configured otherwise)"
                        ),
                        "415": error("unsupported_media_type: send Content-Type: application/json"),
                        "422": error("invalid_request, unknown_symbol, too_large or refused_by_risk"),
                        "500": error("internal_error: nothing wrong with the request that we know of"),
                        "501": error("not_available: this deployment wires no owner controls"),
                        "503": error(
                            "busy: the store is contended; retry with the same client_id. market_data_unavailable: "
                            "run_cycle could not read the market data (the detail says why); retry later"
                        ),
                    },
                    "security": [{"signature": []}, {"bearer": []}],
                }
            }
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": SIGNATURE_HEADER,
                    "description": f"HMAC-SHA256 request signature, with {TIMESTAMP_HEADER} (see info.description)",
                },
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def __getattr__(name: str) -> Any:
    """`OPENAPI`, the description, made when first asked for rather than at import."""
    if name == "OPENAPI":
        return openapi()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
