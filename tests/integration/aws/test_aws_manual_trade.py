"""The manual trade endpoint behind a Lambda Function URL: signed requests trade, anything else is a
4xx (never a 5xx), and the secret comes from SSM Parameter Store or the environment."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from aws_helpers import SYMBOLS, TF, VENUE_SECRET, LambdaContext, sample

from coinswarm.http.signing import sign
from coinswarm.stages.messages import CANDLES
from functions.manual_trade import aws as manual_trade
from functions.tick_ingest import aws as tick_ingest
from servers.moto import aws_client

SECRET = "manual-trade-secret-6f1d0c9a7b2e4f58"


def request(
    body: bytes | str, *, secret: str | None = SECRET, method: str = "POST", age_s: int = 0, **headers: str
) -> dict[str, Any]:
    """A Function URL event (AWS's documented sample) carrying `body`, signed with `secret` `age_s` ago."""
    raw = body.encode() if isinstance(body, str) else body
    event = sample("function_url_event")
    event["requestContext"]["http"]["method"] = method
    try:
        event["body"] = raw.decode()
    except UnicodeDecodeError:  # not text: Function URLs hand such a body over in base64
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    event["headers"]["content-length"] = str(len(raw))
    if secret is not None:
        signed = sign(secret, method, event["rawPath"], raw, int(time.time()) - age_s)
        event["headers"].update({name.lower(): value for name, value in signed.items()})
    event["headers"].update(headers)
    return event


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = manual_trade.handler(event, LambdaContext())
    assert set(response) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert response["headers"]["Content-Type"] == "application/json" and response["isBase64Encoded"] is False
    return response["statusCode"], json.loads(response["body"])


def trade(client_id: str, **fields: Any) -> str:
    return json.dumps(
        {"action": "trade", "symbol": "BTC-USD", "side": "buy", "notional": 250.0, "client_id": client_id, **fields}
    )


@pytest.fixture
def endpoint(make_mesh, monkeypatch):
    """The endpoint's App, with no price stored yet."""
    monkeypatch.setenv("COINSWARM_MANUAL_TRADE_SECRET", SECRET)
    return make_mesh(committee={"threshold": 1.0, "quorum": 3})


@pytest.fixture
def priced(endpoint):
    """The endpoint's App after a cycle has stored candles: prices to trade at."""
    tick_ingest.handler(endpoint.scheduler_event(endpoint.now - 2 * TF), LambdaContext())
    return endpoint


def test_a_signed_trade_is_placed_once(priced, logs) -> None:
    status, body = call(request(trade("web-1")))
    assert status == 202, body
    assert body["client_order_id"] == "cs-mc-web-1" and body["status"] == "pending" and not body["duplicate"]
    status, body = call(request(trade("web-1"), age_s=2))  # signed anew: the same trade again
    assert status == 200 and body["duplicate"]
    assert priced.broker.submitted == ["cs-mc-web-1"]
    text = json.dumps(logs())
    assert SECRET not in text and VENUE_SECRET not in text


def test_run_cycle_puts_the_cycle_on_the_candles_queue(priced) -> None:
    before = int(time.time())
    status, body = call(request('{"action": "run_cycle"}'))
    cycle = body["result"]["cycle_id"]
    assert status == 202 and cycle in {f"cycle-{t // TF * TF}" for t in (before, int(time.time()))}
    sent = [m for m in priced.receive(CANDLES) if m["MessageAttributes"]["cycle_id"]["StringValue"] == cycle]
    assert body["result"]["published"] == len(sent) == len(SYMBOLS)


def test_a_base64_body_is_read(priced) -> None:
    event = request(trade("web-b64"))
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert call(event)[0] == 202


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (lambda: request(trade("web-2"), secret=None), 401),  # unsigned
        (lambda: request(trade("web-3"), secret="another-secret-of-enough-length"), 401),
        (lambda: request("{not json"), 400),
        (lambda: request(b"\xff\xfe"), 400),
        (lambda: request(trade("web-4", notional=-5.0)), 422),
        (lambda: request(trade("web-5", symbol="DOGE-EUR")), 422),
        (lambda: request(trade("web-6"), **{"content-type": "text/plain"}), 415),
        (lambda: request(trade("web-7"), method="GET"), 405),
        (lambda: request("x" * 5000), 413),
        (lambda: {"Records": []}, 400),  # not a Function URL event at all
        (lambda: {**request(trade("web-8")), "isBase64Encoded": True}, 400),  # not base64
    ],
    ids=[
        "unsigned",
        "wrong-secret",
        "bad-json",
        "not-utf8",
        "negative-notional",
        "unknown-symbol",
        "not-json-content-type",
        "get",
        "too-large",
        "sqs-event",
        "bad-base64",
    ],
)
def test_bad_requests_are_refused_with_a_4xx(endpoint, logs, event, status: int) -> None:
    got, body = call(event())
    assert got == status, body
    assert body["error"] and body["detail"]
    assert endpoint.broker.submitted == []
    assert SECRET not in json.dumps(logs())


def test_a_replayed_request_is_refused(priced) -> None:
    event = request(trade("web-9"))
    assert call(event)[0] == 202
    status, body = call(event)
    assert status == 401 and "replayed" in body["detail"]


def test_the_secret_comes_from_ssm_parameter_store(make_mesh, monkeypatch) -> None:
    monkeypatch.delenv("COINSWARM_MANUAL_TRADE_SECRET", raising=False)
    mesh = make_mesh()
    ssm = aws_client("ssm", mesh.endpoint)
    name = f"/{mesh.prefix}/manual-trade-secret"
    ssm.put_parameter(Name=name, Value=SECRET, Type="SecureString")
    try:
        tick_ingest.handler(mesh.scheduler_event(mesh.now - TF), LambdaContext())
        assert call(request(trade("ssm-1")))[0] == 202
        assert call(request(trade("ssm-2"), secret=None))[0] == 401
    finally:
        ssm.delete_parameter(Name=name)
