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
coinswarm.http.manual_openapi describes all of it. The body's schema is coinswarm.http.manual_request,
its JSON parser coinswarm.http.strict_json, the wording of its errors coinswarm.http.manual_errors.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import ValidationError

from coinswarm.domain.models import Order, OrderIntent, RiskRejection, Side
from coinswarm.http.json_http import JSON_TYPE, HttpRequest, HttpResponse, error, respond, sent_as_json
from coinswarm.http.manual_errors import failure, field_errors
from coinswarm.http.manual_request import MAX_NOTIONAL, RunCycleRequest, TradeRequest, request_validator
from coinswarm.http.owner_actions import OwnerControls
from coinswarm.http.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, Authenticated, Authenticator, AuthError
from coinswarm.http.strict_json import BadJsonError, parse_json
from coinswarm.ports.clock import Clock
from coinswarm.ports.state import StateStore

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096


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
        except Exception as exc:
            return failure(exc)

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
                exc.http_status,
                "unauthorized",
                f"{exc.reason}: sign the request with a configured secret and the current time "
                f"({TIMESTAMP_HEADER}, {SIGNATURE_HEADER}), or send the configured bearer token",
                headers={"WWW-Authenticate": self.auth.challenge},
            )
        if not sent_as_json(request):
            return error(415, "unsupported_media_type", f"send the body as JSON with Content-Type: {JSON_TYPE}")
        try:
            data = parse_json(body)
        except BadJsonError as exc:
            return error(exc.http_status, "invalid_json", f"the body is not valid JSON: {exc}")
        try:
            command = request_validator().validate_python(data)
        except ValidationError as exc:
            fields = field_errors(exc)
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
