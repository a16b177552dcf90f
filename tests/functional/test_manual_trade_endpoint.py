"""The manual trade endpoint over the real stages: a signed trade is placed once, however often it is
sent; every kind of bad request gets its 4xx; and a fuzz of a thousand generated requests never gets
a 5xx, never places an order it should not, and never writes a secret to the logs."""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from functional_builders import SYMBOLS, series
from functional_builders import settings as config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.domain.models import Order, OrderIntent
from coinswarm.errors import ClaimInProgressError, CoinswarmError, ConflictError, OrderNotFoundError
from coinswarm.http.json_http import HttpRequest, HttpResponse
from coinswarm.http.manual_openapi import OPENAPI
from coinswarm.http.manual_request import MAX_NOTIONAL, MAX_QUANTITY, TradeRequest
from coinswarm.http.manual_trade import (
    MAX_BODY_BYTES,
    ManualTradeHandler,
    PlacementResult,
    stored_close,
)
from coinswarm.http.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Authenticator,
    BearerAuthenticator,
    HmacAuthenticator,
    sign,
)
from coinswarm.http.status_api import STATUS_PATH, StatusHandler
from coinswarm.http.telegram_commands import Commands
from coinswarm.http.telegram_remote import TELEGRAM_PATH
from coinswarm.http.telegram_webhook import SECRET_HEADER, TelegramWebhook
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.placement import set_kill_switch
from coinswarm.wiring.bootstrap import App, build_app
from coinswarm.wiring.runner import CycleRunner
from error_classes import every_error_class
from error_classes import instance as error_instance
from error_classes import name as error_name

SECRET = "manual-trade-secret-4b7e1f9c2a6d8e30"
OLD_SECRET = "manual-trade-secret-previous-77aa11"
TOKEN = "bearer-token-for-tests-0c9d8e7f6a5b"


class CountingBroker(PaperBroker):
    """The paper broker, remembering the id of every order ever submitted to it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submitted: set[str] = set()

    def submit(self, order: Order) -> Order:
        held = super().submit(order)
        self.submitted.add(order.client_order_id)
        return held


@dataclass
class Env:
    app: App
    clock: SimulatedClock
    broker: CountingBroker
    handler: ManualTradeHandler
    cycles: list[int] = field(default_factory=list)


def make_env(auth: str = "hmac", place: Any = None, **changes: Any) -> Env:
    """A real app on a memory store, one fused cycle run so that every symbol has a stored close."""
    cfg = config(wiring="fused", **changes)
    data = series(n=60)
    store = MemoryStore()
    broker = CountingBroker(
        store,
        account=cfg.account,
        starting_cash=cfg.paper.starting_cash,
        fee_bps=cfg.paper.fee_bps,
        slippage_bps=cfg.paper.slippage_bps,
        min_order_notional=cfg.risk.min_order_notional,
    )
    last = max(c.close_ts for candles in data.values() for c in candles)
    clock = SimulatedClock(last)
    app = build_app(
        cfg, market=ReplayMarketData(data, label="synthetic test series"), store=store, clock=clock, broker=broker
    )
    runner = CycleRunner(app, wiring="fused")
    runner.run_cycle(last)
    broker.submitted.clear()  # whatever the committee did; from here on only the endpoint places orders
    cycles: list[int] = []

    def run_cycle() -> dict[str, Any]:
        runner.run_cycle(clock.now())
        cycles.append(clock.now())
        return {"cycle_id": f"cycle-{clock.now()}", "cycles_run": runner.cycles}

    def place_now(intent: OrderIntent) -> PlacementResult:
        return app.stages.placement.place(intent, now=clock.now())

    authenticator: Authenticator = (
        HmacAuthenticator([SECRET, OLD_SECRET], clock) if auth == "hmac" else BearerAuthenticator([TOKEN])
    )
    handler = ManualTradeHandler(
        place or place_now,
        run_cycle,
        clock,
        authenticator,
        price_of=stored_close(app.state, cfg.timeframe_s),
    )
    return Env(app, clock, broker, handler, cycles)


def signed(
    env: Env,
    payload: dict[str, Any] | bytes,
    *,
    ts: int | None = None,
    secret: str = SECRET,
    method: str = "POST",
    path: str = "/",
    headers: dict[str, str] | None = None,
) -> HttpRequest:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    auth = sign(secret, method, path, body, env.clock.now() if ts is None else ts)
    return HttpRequest(method, path, {"Content-Type": "application/json", **auth, **(headers or {})}, body)


def send(env: Env, request: HttpRequest) -> HttpResponse:
    response = env.handler.handle(request)
    assert json.loads(response.body_bytes()) == response.body  # always a JSON object
    assert response.headers["Content-Type"] == "application/json"
    if response.status >= 400:
        assert isinstance(response.body["error"], str) and isinstance(response.body["detail"], str)
    return response


def manual_pending(env: Env) -> list[Order]:
    return [o for o in env.broker.pending() if o.client_order_id.startswith("cs-m")]


BUY = {"action": "trade", "symbol": "BTC-USD", "side": "buy", "notional": 250.0, "client_id": "buy-1"}


# -- the happy path and exactly-once --------------------------------------------------------------


def test_a_signed_trade_is_placed_once_however_often_it_is_sent() -> None:
    env = make_env()
    first = signed(env, BUY)
    response = send(env, first)
    assert response.status == 202, response.body
    assert response.body["client_order_id"] == "cs-mc-buy-1" and response.body["status"] == "pending"
    assert response.body["duplicate"] is False and response.body["reference_price"] > 0
    (order,) = manual_pending(env)
    assert (order.client_order_id, order.symbol, order.side.value, order.notional) == (
        "cs-mc-buy-1",
        "BTC-USD",
        "buy",
        250.0,
    )

    replay = send(env, first)  # the very same request again: refused, whatever it asks
    assert replay.status == 401 and replay.body["error"] == "unauthorized"
    assert replay.body["detail"].startswith("replayed request")
    assert replay.headers["WWW-Authenticate"]

    retry = send(env, signed(env, BUY, ts=env.clock.now() + 1))  # a retry: a fresh signature, same client_id
    assert retry.status == 200 and retry.body["duplicate"] is True
    assert retry.body["client_order_id"] == "cs-mc-buy-1"
    assert [o.client_order_id for o in manual_pending(env)] == ["cs-mc-buy-1"]
    assert env.broker.submitted == {"cs-mc-buy-1"}


def test_without_a_client_id_each_signed_request_is_its_own_trade() -> None:
    env = make_env()
    trade = {"action": "trade", "symbol": "ETH-USD", "side": "buy", "quantity": 0.5}
    a = send(env, signed(env, trade))
    b = send(env, signed(env, trade, ts=env.clock.now() - 1, secret=OLD_SECRET))  # the rotated-out secret
    assert a.status == b.status == 202
    assert a.body["client_order_id"] != b.body["client_order_id"]
    assert all(re.fullmatch(r"cs-ma-[0-9a-f]{24}", r.body["client_order_id"]) for r in (a, b))
    assert len(manual_pending(env)) == 2


def test_kill_switch_refuses_with_the_reason() -> None:
    env = make_env()
    set_kill_switch(env.app.state, True, reason="test")
    response = send(env, signed(env, BUY))
    assert response.status == 422 and response.body["error"] == "refused_by_risk"
    assert "kill switch" in response.body["detail"]
    assert manual_pending(env) == [] and env.broker.submitted == set()
    # the refusal is the intent's outcome: a retry is told so, and a new client_id is refused by risk too
    again = send(env, signed(env, BUY, ts=env.clock.now() + 1))
    assert again.status == 409 and again.body["error"] == "already_handled"


def test_a_client_id_reused_for_another_trade_is_a_conflict() -> None:
    env = make_env()
    assert send(env, signed(env, BUY)).status == 202
    other = send(env, signed(env, {**BUY, "symbol": "SOL-USD"}, ts=env.clock.now() + 1))
    assert other.status == 409 and other.body["error"] == "client_id_conflict"
    assert env.broker.submitted == {"cs-mc-buy-1"}


def test_run_cycle() -> None:
    env = make_env()
    response = send(env, signed(env, {"action": "run_cycle"}))
    assert response.status == 202 and response.body["action"] == "run_cycle"
    assert response.body["result"]["cycle_id"] == f"cycle-{env.clock.now()}"
    assert env.cycles == [env.clock.now()]


def test_bearer_token() -> None:
    env = make_env(auth="bearer")
    body = json.dumps(BUY).encode()
    ok = send(
        env, HttpRequest("POST", "/", {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}, body)
    )
    assert ok.status == 202
    bad = send(
        env, HttpRequest("POST", "/", {"Authorization": "Bearer nope", "Content-Type": "application/json"}, body)
    )
    assert bad.status == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in json.dumps(bad.body)


# -- each refusal ----------------------------------------------------------------------------------


def test_wrong_method_and_oversized_bodies_are_refused_before_authentication() -> None:
    env = make_env()
    get = send(env, HttpRequest("GET", "/", {}, b""))
    assert get.status == 405 and get.headers["Allow"] == "POST" and get.body["error"] == "method_not_allowed"
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    huge = send(env, signed(env, big))
    assert huge.status == 413 and huge.body["error"] == "body_too_large"
    assert send(env, HttpRequest("POST", "/", {}, big)).status == 413  # unsigned: still 413, nothing read


def test_unauthenticated_requests_learn_nothing_secret() -> None:
    env = make_env()
    body = json.dumps(BUY).encode()
    cases = [
        HttpRequest("POST", "/", {"Content-Type": "application/json"}, body),
        signed(env, BUY, secret="someone-elses-secret-123456"),
        signed(env, BUY, ts=env.clock.now() - 3600),
        signed(env, BUY, ts=env.clock.now() + 3600),
        HttpRequest("POST", "/", signed(env, BUY, path="/other").headers, body),
        HttpRequest("POST", "/", {**signed(env, BUY).headers, TIMESTAMP_HEADER: "soon"}, body),
    ]
    for request in cases:
        response = send(env, request)
        assert response.status == 401 and response.body["error"] == "unauthorized"
        text = json.dumps(response.body)
        assert SECRET not in text and OLD_SECRET not in text
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature:
            assert signature[3:] not in text
    assert env.broker.submitted == set()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"action": "run_cycle"}', None, 415, "unsupported_media_type"),
        (b'{"action": "run_cycle"}', "text/plain", 415, "unsupported_media_type"),
        (b"{not json", "application/json", 400, "invalid_json"),
        (b"\xff\xfe{}", "application/json", 400, "invalid_json"),
        (b'{"action": "run_cycle", "action": "trade"}', "application/json", 400, "invalid_json"),
        (b'{"action":"trade","symbol":"BTC-USD","side":"buy","notional":NaN}', "application/json", 400, "invalid_json"),
        (b"[" * 2000 + b"]" * 2000, "application/json", 400, "invalid_json"),
        (b'{"action":"trade","symbol":"BTC-USD","side":"buy","notional":1e999}', "application/json", 422, None),
        (b"[]", "application/json", 422, "invalid_request"),
        (b'{"action": "sell everything"}', "application/json", 422, "invalid_request"),
        (b"{}", "application/json", 422, "invalid_request"),
        (b'{"action": "run_cycle", "extra": 1}', "application/json", 422, "invalid_request"),
    ],
)
def test_bodies_that_are_not_a_request(body: bytes, content_type: str | None, status: int, code: str | None) -> None:
    env = make_env()
    request = signed(env, body)
    headers = {k: v for k, v in request.headers.items() if k != "Content-Type"}
    if content_type is not None:
        headers["content-type"] = content_type
    response = send(env, HttpRequest("POST", "/", headers, body))
    assert response.status == status and response.body["error"] == (code or "invalid_request"), response.body
    assert env.broker.submitted == set() and env.cycles == []


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"notional": None}, "body"),
        ({"notional": -5}, "notional"),
        ({"notional": 0}, "notional"),
        ({"notional": "100"}, "notional"),
        ({"notional": True}, "notional"),
        ({"notional": MAX_NOTIONAL * 2}, "notional"),
        ({"quantity": 1.0}, "body"),  # two amounts
        ({"side": "BUY"}, "side"),
        ({"symbol": "btc-usd"}, "symbol"),
        ({"symbol": "BTC-USD\n"}, "symbol"),
        ({"symbol": "BTCUSD"}, "symbol"),
        ({"client_id": "has space"}, "client_id"),
        ({"client_id": "x" * 25}, "client_id"),
        ({"price": 1.0}, "price"),
        ({"client_id": SECRET}, "client_id"),
        ({"symbol": SECRET}, "symbol"),
    ],
)
def test_schema_errors_name_the_field_and_never_echo_the_value(changes: dict[str, Any], loc: str) -> None:
    env = make_env()
    response = send(env, signed(env, {**BUY, **changes}))
    assert response.status == 422 and response.body["error"] == "invalid_request", response.body
    assert loc in [f["loc"] for f in response.body["fields"]]
    text = json.dumps(response.body)
    for value in changes.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in text
    assert env.broker.submitted == set()


def test_an_unknown_symbol_or_a_trade_too_large() -> None:
    env = make_env()
    unknown = send(env, signed(env, {**BUY, "symbol": "DOGE-USD"}))
    assert unknown.status == 422 and unknown.body["error"] == "unknown_symbol" and "DOGE-USD" in unknown.body["detail"]
    big = {"action": "trade", "symbol": "SOL-USD", "side": "buy", "quantity": MAX_QUANTITY}
    too_large = send(env, signed(env, big, ts=env.clock.now() + 1))
    assert too_large.status == 422 and too_large.body["error"] == "too_large"
    assert env.broker.submitted == set()


def test_a_failure_inside_is_a_generic_500_logged_without_the_request(caplog) -> None:
    def broken(intent: OrderIntent) -> PlacementResult:
        raise RuntimeError("the broker fell over")

    env = make_env(place=broken)
    caplog.set_level(logging.DEBUG)
    request = signed(env, BUY)
    response = send(env, request)
    assert response.status == 500 and response.body["error"] == "internal_error"
    assert "fell over" not in json.dumps(response.body)
    logged = caplog.text
    assert "RuntimeError" in logged
    assert request.headers[SIGNATURE_HEADER][3:] not in logged and "buy-1" not in logged and SECRET not in logged


def test_a_busy_store_is_a_503_to_retry() -> None:
    def contended(intent: OrderIntent) -> PlacementResult:
        raise ConflictError("risk:paper:day: 20 concurrent updates in a row; try again")

    env = make_env(place=contended)
    response = send(env, signed(env, BUY))
    assert response.status == 503 and response.body["error"] == "busy" and response.headers["Retry-After"] == "1"
    assert "the store is busy" in response.body["detail"]


def test_a_trade_still_being_placed_by_another_request_is_a_503_to_retry() -> None:
    def held(intent: OrderIntent) -> PlacementResult:
        raise ClaimInProgressError(f"order:{intent.intent_id}", 12)

    env = make_env(place=held)
    response = send(env, signed(env, BUY))
    assert response.status == 503 and response.body["error"] == "busy" and response.headers["Retry-After"] == "1"
    assert "still being placed by another request" in response.body["detail"]
    assert not env.broker.submitted


# -- the error's class decides the answer, at every HTTP edge -----------------------------------

HOOK_SECRET = "telegram-webhook-secret-FAKE-7c1d"
CHAT = 4242
REQUESTS = itertools.count()


class ClaimRaises:
    """A coordination store whose claim raises `exc`: how an error ends a Telegram update's request."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def begin(self, *args: Any, **kwargs: Any) -> Any:
        raise self.exc


@pytest.fixture(scope="module")
def edge_env() -> Env:
    return make_env()


def at_every_edge(env: Env, exc: Exception) -> dict[str, HttpResponse]:
    """`exc` ending a request at the manual trade endpoint, the status API and the Telegram webhook."""

    def raise_it(*args: Any) -> Any:
        raise exc

    env.handler.place = raise_it
    trade = {**BUY, "client_id": f"error-{next(REQUESTS)}"}  # a signature of its own: not a replay
    status = StatusHandler(raise_it, BearerAuthenticator([TOKEN]))
    hook = TelegramWebhook(
        HOOK_SECRET,
        [CHAT],
        Commands(raise_it, raise_it, raise_it),
        ClaimRaises(exc),
        env.clock.now,
        defer=raise_it,
        reply=raise_it,
    )
    update = {"update_id": 1, "message": {"chat": {"id": CHAT}, "text": "/status"}}
    return {
        "manual trade": send(env, signed(env, trade)),
        "status": status.handle(HttpRequest("GET", STATUS_PATH, {"Authorization": f"Bearer {TOKEN}"}, b"")),
        "telegram": hook.handle(
            HttpRequest("POST", TELEGRAM_PATH, {SECRET_HEADER: HOOK_SECRET}, json.dumps(update).encode())
        ),
    }


@pytest.mark.parametrize("kind", every_error_class(), ids=error_name)
def test_every_error_class_answers_its_http_status_at_every_edge(
    edge_env: Env, kind: type[CoinswarmError], caplog: pytest.LogCaptureFixture
) -> None:
    exc = error_instance(kind)
    for edge, response in at_every_edge(edge_env, exc).items():
        assert response.status == kind.http_status, (edge, response.body)
        assert ("Retry-After" in response.headers) == (kind.http_status in (429, 503)), (edge, response.headers)
        if kind.http_status == 500:  # a fault: nothing of it told, the traceback logged
            assert response.body["error"] == "internal_error" and str(exc) not in response.body["detail"], edge
        else:
            assert response.body["error"] != "internal_error" and response.body["detail"], (edge, response.body)
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info[1] for r in faults if r.exc_info] == ([exc] * 3 if kind.http_status == 500 else [])
    assert not edge_env.broker.submitted


def test_an_error_without_words_of_the_endpoint_answers_its_class_name_and_message(edge_env: Env) -> None:
    answers = at_every_edge(edge_env, OrderNotFoundError("coinbase", "no order cs-m-1"))
    for edge, response in answers.items():
        assert response.status == 404, edge
        assert response.body == {"error": "order_not_found", "detail": "coinbase: no order cs-m-1"}, edge


# -- the OpenAPI description ---------------------------------------------------------------------


def test_the_openapi_description_is_valid_and_matches_the_model() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    jsonschema = pytest.importorskip("jsonschema")
    validator.validate(OPENAPI)
    json.dumps(OPENAPI)
    operation = OPENAPI["paths"]["/"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    trade_schema = OPENAPI["components"]["schemas"]["TradeRequest"]
    for name in ("buy", "sell"):
        TradeRequest.model_validate(examples[name]["value"])
        jsonschema.validate(examples[name]["value"], trade_schema)
    for bad in ({**BUY, "quantity": 1.0}, {**BUY, "notional": None}, {**BUY, "extra": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, trade_schema)
    assert {"200", "202", "400", "401", "405", "409", "413", "415", "422", "500", "503"} <= set(operation["responses"])


# -- the fuzz ----------------------------------------------------------------------------------------

ALLOWED = {"action", "symbol", "side", "notional", "quantity", "client_id"}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
CLIENT_IDS = st.one_of(
    st.sampled_from(["retry-1", "retry-2", "a"]), st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True)
)
SPECIAL_BODIES = [
    b"",
    b"null",
    b"42",
    b'"run_cycle"',
    b"\xef\xbb\xbf" + b'{"action": "run_cycle"}',
    '{"action": "run_cycle"}'.encode("utf-16"),
    b'{"action": "run_cycle"} trailing',
    b'{"action": "run_cycle", "action": "run_cycle"}',
    b'{"action":"trade","symbol":"BTC-USD","side":"buy","notional":NaN}',
    b'{"action":"trade","symbol":"BTC-USD","side":"buy","notional":Infinity}',
    b'{"action":"trade","symbol":"BTC-USD","side":"buy","notional":1e999}',
    b'{"action":"trade","symbol":"BTC-USD","side":"buy","notional":' + b"9" * 3000 + b"}",
    b"[" * 2040 + b"]" * 2040,
    b'{"a":' * 600 + b"1" + b"}" * 600,
    b'{"action":"trade","symbol":"BTC\\u002dUSD","side":"buy","notional":5}',
    b'{"action":"trade","symbol":"\xd0\x92TC-USD","side":"buy","notional":5}',
]
ANY = "<any text>"  # in the lists below: draw arbitrary text instead; repeated entries weigh the draw
METHODS = ["POST"] * 24 + ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post", "TRACE", ANY]
PATHS = ["/"] * 6 + ["/manual-trade", "/a.b", ANY]
CONTENT_TYPES = ["application/json"] * 24 + [
    "application/json; charset=utf-8",
    "Application/JSON",
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/jsonx",
    ANY,
]
MODES = ["valid"] * 20 + [
    "rotated",
    "case",
    "upper_hex",
    "wrong_secret",
    "missing_sig",
    "missing_ts",
    "missing_both",
    "garbled_sig",
    "garbled_ts",
    "old",
    "future",
    "tamper_body",
    "tamper_path",
    "tamper_method",
    "tamper_ts",
    "replay",
    "replay",
    "retry_client_id",
]
BODY_KINDS = ["trade"] * 5 + [
    "run_cycle",
    "mutated",
    "mutated",
    "mutated",
    "junk_json",
    "binary",
    "special",
    "oversize",
]


@st.composite
def valid_trades(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "trade",
        "symbol": draw(st.sampled_from(SYMBOLS)),
        "side": draw(st.sampled_from(["buy", "sell"])),
    }
    if draw(st.booleans()):
        body["notional"] = draw(st.floats(min_value=0.01, max_value=MAX_NOTIONAL) | st.integers(1, 5000))
    else:
        body["quantity"] = draw(st.floats(min_value=1e-8, max_value=1e3) | st.integers(1, 10))
    if draw(st.booleans()):
        body["client_id"] = draw(CLIENT_IDS)
    return body


@st.composite
def mutated_trades(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(valid_trades())
    how = draw(st.sampled_from(["drop", "extra", "retype", "huge", "both", "symbol", "side", "client_id", "null"]))
    if how == "drop":
        del body[draw(st.sampled_from(sorted(body)))]
    elif how == "extra":
        body[draw(st.text(min_size=1, max_size=12))] = draw(JSON_VALUES)
    elif how == "retype":
        body[draw(st.sampled_from(sorted(body)))] = draw(JSON_VALUES)
    elif how == "huge":
        amount = "notional" if "notional" in body else "quantity"
        body[amount] = draw(
            st.sampled_from([1e308, 1e16, 10**30, 2**63, -1, 0, -0.0, 5e-324, MAX_NOTIONAL + 1, MAX_QUANTITY * 10])
        )
    elif how == "both":
        body["notional"], body["quantity"] = 10.0, 0.1
    elif how == "symbol":
        body["symbol"] = draw(st.text(max_size=14) | st.sampled_from(["btc-usd", "BTC_USD", "BTC-USD ", "DOGE-USD"]))
    elif how == "side":
        body["side"] = draw(st.text(max_size=6) | st.sampled_from(["BUY", "Sell", "hold"]))
    elif how == "client_id":
        body["client_id"] = draw(st.text(max_size=30))
    else:
        body[draw(st.sampled_from(["notional", "quantity", "client_id"]))] = None
    return body


def is_valid_command(obj: Any) -> bool:
    """An independent reading of the schema, to judge generated bodies by."""
    if not isinstance(obj, dict) or "action" not in obj:
        return False
    if obj["action"] == "run_cycle":
        return set(obj) == {"action"}
    if obj["action"] != "trade" or not set(obj) <= ALLOWED:
        return False
    symbol, side = obj.get("symbol"), obj.get("side")
    if not (isinstance(symbol, str) and re.fullmatch(r"[A-Z0-9]{2,10}-[A-Z0-9]{2,10}", symbol)):
        return False
    if not (isinstance(side, str) and side in ("buy", "sell")):
        return False
    amounts = [k for k in ("notional", "quantity") if k in obj]
    if len(amounts) != 1:
        return False
    value = obj[amounts[0]]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        number = float(value)
    except OverflowError:
        return False
    limit = MAX_NOTIONAL if amounts[0] == "notional" else MAX_QUANTITY
    if not (math.isfinite(number) and 0.0 < number <= limit):
        return False
    client_id = obj.get("client_id", "ok")
    return isinstance(client_id, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,24}", client_id) is not None


def parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


@dataclass
class Sent:
    request: HttpRequest
    signature: str  # lower-case hex, "" when the request carries none
    mode_ok: bool  # signed as it should be (ignoring whether the signature was used before)
    body_kind: str
    payload: dict[str, Any] | None


@dataclass
class FuzzLog:
    sent: list[Sent] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    signatures: set[str] = field(default_factory=set)


UNSIGNED = HttpRequest("POST", "/", {"Content-Type": "application/json"}, json.dumps(BUY).encode())


def draw_body(data: st.DataObject) -> tuple[str, bytes, dict[str, Any] | None]:
    kind = data.draw(st.sampled_from(BODY_KINDS), label="body kind")
    payload: dict[str, Any] | None = None
    if kind == "trade":
        payload = data.draw(valid_trades())
        body = json.dumps(payload).encode()
    elif kind == "run_cycle":
        payload = {"action": "run_cycle"}
        body = json.dumps(payload, separators=(",", ":")).encode()
    elif kind == "mutated":
        body = json.dumps(data.draw(mutated_trades())).encode()
    elif kind == "junk_json":
        body = json.dumps(data.draw(JSON_VALUES), ensure_ascii=data.draw(st.booleans())).encode()
    elif kind == "binary":
        body = data.draw(st.binary(max_size=300))
    elif kind == "special":
        body = data.draw(st.sampled_from(SPECIAL_BODIES))
    else:
        size = data.draw(st.integers(MAX_BODY_BYTES + 1, 4 * MAX_BODY_BYTES))
        body = b'{"action": "run_cycle", "pad": "' + b"x" * size + b'"}'
    return kind, body, payload


def pick(data: st.DataObject, choices: list[Any], *, max_size: int) -> Any:
    chosen = data.draw(st.sampled_from(choices))
    return data.draw(st.text(max_size=max_size)) if chosen == ANY else chosen


def draw_request(data: st.DataObject, env: Env, log: FuzzLog) -> Sent:
    # What is drawn never depends on what earlier examples sent (Hypothesis replays draws): a replay or
    # a retry draws an index into the requests sent so far.
    mode = data.draw(st.sampled_from(MODES), label="signing")
    if mode == "replay":
        index = data.draw(st.integers(0, 2**16), label="replayed")
        return log.sent[index % len(log.sent)] if log.sent else Sent(UNSIGNED, "", False, "trade", None)
    kind, body, payload = draw_body(data)
    if mode == "retry_client_id":
        index = data.draw(st.integers(0, 2**16), label="retried")
        earlier = [s.payload for s in log.sent if s.payload and s.payload.get("client_id")] or [BUY]
        kind, payload = "trade", earlier[index % len(earlier)]
        body = json.dumps(payload).encode()
    method = pick(data, METHODS, max_size=7)
    path = pick(data, PATHS, max_size=20)
    mode_ok = mode in ("valid", "rotated", "case", "upper_hex", "replay", "retry_client_id")
    secret, ts, signed_method, signed_path, sent_body = draw_signing(data, mode, env.clock.now(), method, path, body)
    auth = sign(secret, signed_method, signed_path, body, ts)
    sig = auth[SIGNATURE_HEADER][3:]
    auth = draw_auth_headers(data, mode, auth, ts, sig)
    headers = draw_other_headers(data, auth)
    request = HttpRequest(method, path, headers, sent_body)
    carries_signature = any(k.lower() == SIGNATURE_HEADER.lower() for k in auth)
    return Sent(request, sig if carries_signature else "", mode_ok, kind, payload)


def draw_signing(
    data: st.DataObject, mode: str, now: int, method: str, path: str, body: bytes
) -> tuple[str, int, str, str, bytes]:
    """What `mode` signs: the secret, the time, the method and path, and the body then sent."""
    ts = now + data.draw(st.integers(-300, 300), label="skew")
    secret = SECRET
    if mode == "rotated":
        secret = OLD_SECRET
    elif mode == "wrong_secret":
        secret = data.draw(st.text(min_size=16, max_size=40).filter(lambda s: s not in (SECRET, OLD_SECRET)))
    elif mode == "old":
        ts = now - data.draw(st.integers(301, 10**10))
    elif mode == "future":
        ts = now + data.draw(st.integers(301, 10**10))
    sent_body = body
    if mode == "tamper_body":
        sent_body = body + data.draw(st.binary(min_size=1, max_size=4))
    elif mode == "tamper_path":
        path = path + "x"
    elif mode == "tamper_method":
        method = "PUT" if method.upper() != "PUT" else "POST"
    return secret, ts, method, path, sent_body


def draw_auth_headers(data: st.DataObject, mode: str, auth: dict[str, str], ts: int, sig: str) -> dict[str, str]:
    """The signature headers as `mode` sends them: altered, missing or as signed."""
    if mode == "tamper_ts":
        auth[TIMESTAMP_HEADER] = str(ts + 1)
    elif mode == "upper_hex":
        auth[SIGNATURE_HEADER] = "v1=" + sig.upper()
    elif mode == "missing_sig":
        del auth[SIGNATURE_HEADER]
    elif mode == "missing_ts":
        del auth[TIMESTAMP_HEADER]
    elif mode == "missing_both":
        auth = {}
    elif mode == "garbled_sig":
        auth[SIGNATURE_HEADER] = data.draw(
            st.text(max_size=80) | st.from_regex(r"v1=[0-9a-f]{64}", fullmatch=True) | st.just(f"v1={sig[::-1]}")
        )
    elif mode == "garbled_ts":
        auth[TIMESTAMP_HEADER] = data.draw(st.text(max_size=14).filter(lambda t: t.strip() != str(ts)))
    elif mode == "case":
        change = data.draw(st.sampled_from([str.lower, str.upper, str.swapcase, str.title]))
        auth = {change(k): v for k, v in auth.items()}
    return auth


def draw_other_headers(data: st.DataObject, auth: dict[str, str]) -> dict[str, str]:
    """`auth` with a Content-Type (or none) and up to two other headers that do not replace any of them."""
    headers = dict(auth)
    content_type = pick(data, CONTENT_TYPES, max_size=20)
    if content_type is not None:
        headers[data.draw(st.sampled_from(["Content-Type", "content-type", "CONTENT-TYPE"]))] = content_type
    taken = {k.lower() for k in headers} | {"authorization"}
    extra = data.draw(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=2))
    headers.update({k: v for k, v in extra.items() if k.lower() not in taken})
    return headers


def check_fuzzed(env: Env, log: FuzzLog, sent: Sent) -> None:
    request = sent.request
    before = set(env.broker.submitted)
    response = send(env, request)
    new_orders = env.broker.submitted - before
    log.statuses[response.status] += 1
    log.codes[response.body.get("error", "ok")] += 1
    if sent.signature:
        log.signatures.add(sent.signature)

    assert response.status < 500, response.body
    is_post = request.method == "POST"
    small = len(request.body) <= MAX_BODY_BYTES
    authentic = sent.mode_ok and sent.signature not in log.accepted
    media = (next((v for k, v in request.headers.items() if k.lower() == "content-type"), "") or "").split(";")[0]
    json_type = media.strip().lower() == "application/json"
    command = parsed(request.body)
    valid = is_valid_command(command)

    if not is_post:
        assert response.status == 405 and response.headers["Allow"] == "POST"
    elif not small:
        assert response.status == 413
    elif not authentic:
        assert response.status == 401 and response.headers["WWW-Authenticate"], (sent, response.body)
    else:
        log.accepted.add(sent.signature)
        if not json_type:
            assert response.status == 415
        elif sent.body_kind in ("trade", "run_cycle"):  # valid by construction: accepted or refused on the merits
            assert response.status in (200, 202, 409, 422), response.body
            if response.status == 422:
                assert response.body["error"] in ("refused_by_risk", "too_large"), response.body
        else:
            assert response.status in (200, 202, 400, 409, 422), response.body

    placed_trade = response.status in (200, 202) and "client_order_id" in response.body
    if new_orders:  # an order only for a valid, validly signed trade (or the committee, on a valid run_cycle)
        assert is_post and small and authentic and json_type and valid, (sent, response.body)
        if command["action"] == "trade":
            assert response.status == 202 and new_orders == {response.body["client_order_id"]}
    if response.status == 202 and placed_trade:
        assert new_orders == {response.body["client_order_id"]}
    if response.status == 200:
        assert not new_orders and response.body["duplicate"] is True
    log.sent.append(sent)


def test_fuzz_never_a_5xx_never_a_stray_order_never_a_secret_in_the_logs(caplog) -> None:
    env = make_env(risk__max_orders_per_day=100_000)
    log = FuzzLog()
    caplog.set_level(logging.DEBUG)

    @settings(
        max_examples=1000,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(data=st.data())
    def one_request(data: st.DataObject) -> None:
        check_fuzzed(env, log, draw_request(data, env, log))

    one_request()

    examples = sum(log.statuses.values())
    print(f"\nfuzz: {examples} requests; statuses {dict(sorted(log.statuses.items()))}; codes {dict(log.codes)}")
    assert examples >= 1000
    assert {202, 400, 401, 405, 413, 415, 422} <= set(log.statuses)
    assert len(env.broker.submitted) >= 5, "the fuzz should place some orders, or it proves little"
    records = [r for r in caplog.records if r.name.startswith("coinswarm")]
    assert records, "the handler logs its refusals"
    for record in caplog.records:
        shown = record.getMessage() + (record.exc_text or "") + repr(record.args)
        if record.exc_info:
            shown += logging.Formatter().formatException(record.exc_info)
        assert SECRET not in shown and OLD_SECRET not in shown
        assert not any(sig in shown for sig in log.signatures)
