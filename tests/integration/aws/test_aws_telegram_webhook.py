"""telegram_webhook behind a Lambda Function URL over DynamoDB (moto): a Telegram update answered in the
webhook's response and claimed once in the coordination table, GET /status behind its bearer token and
the page, a deferred slow command answered with sendMessage, and the CloudWatch alarms (heartbeat, dead
letter) delivered by SNS told once to the owner (the Bot API's local stand-in)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_helpers import TF, LambdaContext, sample

from chat_services import TOKEN, ChatServices, telegram_update
from functions.telegram_webhook import aws as telegram_webhook
from functions.tick_ingest import aws as tick_ingest

CHAT = 777
WEBHOOK_SECRET = "aws-webhook-secret"
STATUS_TOKEN = "aws-status-token-0123456789"


@pytest.fixture
def services() -> Iterator[ChatServices]:
    with ChatServices() as s:
        yield s


@pytest.fixture
def mesh(make_mesh, services: ChatServices):
    made = make_mesh(
        notify={"telegram_bot_token": TOKEN, "telegram_chat_id": str(CHAT), "telegram_api_url": services.url},
        remote={"telegram_chat_ids": [CHAT], "telegram_webhook_secret": WEBHOOK_SECRET, "status_token": STATUS_TOKEN},
    )
    tick_ingest.handler(made.scheduler_event(made.now - 2 * TF), LambdaContext())
    return made


def url_event(method: str, path: str, body: str = "", **headers: str) -> dict[str, Any]:
    event = sample("function_url_event")
    event["requestContext"]["http"]["method"] = method
    event["rawPath"] = path
    event["body"] = body
    event["headers"] = {k.lower(): v for k, v in headers.items()}
    return event


def call(event: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    response = telegram_webhook.handler(event, LambdaContext())
    body = response["body"]
    is_json = response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(body) if is_json else body, response["headers"]


def update(update_id: int, text: str) -> dict[str, Any]:
    body = json.dumps(telegram_update(update_id, CHAT, text))
    return url_event("POST", "/telegram", body, **{"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET})


def test_status_through_the_function_url(mesh) -> None:
    status, body, _ = call(update(1, "/status"))
    assert status == 200 and body["method"] == "sendMessage" and body["chat_id"] == CHAT
    assert "equity" in body["text"]
    status, again, _ = call(update(1, "/status"))  # Telegram redelivers: claimed in DynamoDB already
    assert status == 200 and again == {}


def test_the_status_api_and_page(mesh) -> None:
    status, doc, _ = call(url_event("GET", "/status", Authorization=f"Bearer {STATUS_TOKEN}"))
    assert status == 200 and doc["mode"] == "paper" and doc["last_cycle"]["ts"] is None
    assert call(url_event("GET", "/status"))[0] == 401
    status, html, headers = call(url_event("GET", "/"))
    assert (
        status == 200 and headers["Content-Type"].startswith("text/html") and "<title>Coinswarm status</title>" in html
    )


def test_a_deferred_command_answers_with_send_message(mesh, services: ChatServices) -> None:
    job = {"chat_id": CHAT, "name": "trades", "arg": "", "update_id": 5}
    assert telegram_webhook.handler({telegram_webhook.DEFERRED: job}, LambdaContext()) == {"sent": True}
    (sent,) = services.of("telegram.sendMessage")
    assert sent.body["chat_id"] == CHAT and sent.body["text"] == "No fills yet."


def alarm(metric: str, dims: list[dict[str, str]], state: str = "ALARM") -> dict[str, Any]:
    message = {
        "AlarmName": f"coinswarm-{metric}",
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] was greater than the threshold (0.0).",
        "StateChangeTime": "2026-12-06T17:43:27.123+0000",
        "Trigger": {"MetricName": metric, "Namespace": "Coinswarm", "Dimensions": dims},
    }
    record = {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "Message": json.dumps(message)},
    }
    return {"Records": [record]}


def test_alarms_are_told_once(mesh, services: ChatServices) -> None:
    heartbeat = alarm("Cycles", [])
    assert telegram_webhook.handler(heartbeat, LambdaContext()) == {"notified": 1}
    assert telegram_webhook.handler(heartbeat, LambdaContext()) == {"notified": 0}  # SNS redelivered it
    dlq = alarm("ApproximateNumberOfMessagesVisible", [{"name": "QueueName", "value": "cs-placements-dlq"}])
    assert telegram_webhook.handler(dlq, LambdaContext()) == {"notified": 1}
    assert telegram_webhook.handler(alarm("Cycles", [], state="OK"), LambdaContext()) == {"notified": 0}
    texts = [m.body["text"] for m in services.of("telegram.sendMessage")]
    assert texts[0].startswith("💤 No cycle ran for 3 periods")
    assert texts[1].startswith("📮 A cs-placements-dlq message landed in the dead letter queue")
