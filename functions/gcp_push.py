"""A stage function's request on Google Cloud: a Pub/Sub push, or a step of the cycle's workflow.

* `serve(request, Kind, stage)`: a workflow's step (a JSON body with "workflow") goes to
  `functions.gcp_workflow.workflow`; anything else is a Pub/Sub push, read as functions-framework reads
  a CloudEvent (a 400 when it cannot be), then `consume`d.
* `consume(event, Kind, stage)`: the push (a CloudEvent whose data is a MessagePublishedData) becomes a
  typed message, the stage runs, and each message it hands on is sent on (`Runtime.publish`).
  Everything it logs carries the message's cycle id.

Acknowledging a push (returning) or not (raising) tells Pub/Sub what to do next: a push that can never
succeed is logged at ERROR and acknowledged; anything else that fails raises and is redelivered, then
dead-lettered; a `ClaimInProgressError` is answered 503 and logged as a warning (docs/outbox.md).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from coinswarm.adapters.pubsub_bus import CYCLE_ID_ATTRIBUTE, TOPIC_ATTRIBUTE, route_for
from coinswarm.errors import ClaimInProgressError, CoinswarmError
from coinswarm.observability.logs import cycle_context
from coinswarm.stages.messages import M, decode
from coinswarm.wiring.bootstrap import App
from functions.gcp_runtime import Outputs, log, runtime
from functions.gcp_workflow import workflow
from functions.workflow_step import is_workflow, read_messages

_PREVIEW_BYTES = 160


class UnprocessableError(CoinswarmError, ValueError):
    """A push that no redelivery can make succeed."""


@dataclass(frozen=True, slots=True)
class Push:
    message_id: str
    attributes: Mapping[str, str]
    data: bytes


def read_push(event: Any) -> Push:
    """The Pub/Sub message inside a CloudEvent: {"message": {"data": base64, "attributes", "messageId"}, ...}."""
    data = event.data
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError:
            raise UnprocessableError("the event's data is not JSON") from None
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise UnprocessableError("the event carries no Pub/Sub message")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise UnprocessableError("the message's attributes are not a map")
    message_id = str(message.get("messageId") or message.get("message_id") or event.get("id") or "")
    try:
        body = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise UnprocessableError(f"message {message_id}: its data is not base64") from None
    return Push(message_id, {str(k): str(v) for k, v in attributes.items()}, body)


def consume(event: Any, kind: type[M], stage: Callable[[App], Callable[[M], Outputs]]) -> None:
    """Handle one push: parse it into a `kind` message, run the stage, publish what it hands on.
    Returns normally (Pub/Sub acknowledges) or raises (Pub/Sub redelivers); see the module doc."""
    rt = runtime()
    route = route_for(kind)
    try:
        push = read_push(event)
    except UnprocessableError as exc:
        log.error("%s: acknowledged and dropped a push that can never succeed: %s", route.consumer, exc)
        return
    with cycle_context(push.attributes.get(CYCLE_ID_ATTRIBUTE, "")):
        message = _message(push, kind, route.topic, str(route.consumer))
    if message is None:
        return
    with cycle_context(getattr(message, "cycle_id", "")):
        try:
            outputs = stage(rt.app)(message)
            sent = rt.publish(outputs)
        except ClaimInProgressError as exc:  # a duplicate while another holds the claim: not an error, a "later"
            log.warning("%s: message %s: %s; Pub/Sub redelivers it", route.consumer, push.message_id, exc)
            from werkzeug.exceptions import ServiceUnavailable  # a 503 Flask answers without logging a traceback

            raise ServiceUnavailable(str(exc), retry_after=exc.retry_after_s) from exc
        except Exception as exc:
            log.error(
                "%s: message %s failed (%s); Pub/Sub will redeliver it",
                route.consumer,
                push.message_id,
                type(exc).__name__,
                exc_info=True,
                extra={"message_id": push.message_id},
            )
            raise
        log.info(
            "%s: handled %s message %s; published %d",
            route.consumer,
            route.topic,
            push.message_id,
            sent,
            extra={"message_id": push.message_id, "published": [topic for topic, _ in outputs]},
        )


def _message(push: Push, kind: type[M], topic: str, consumer: str) -> M | None:
    """The push's body as a `kind` message; None (logged at ERROR) when it can never be one."""
    sent_to = push.attributes.get(TOPIC_ATTRIBUTE)
    reason = ""
    if sent_to is not None and sent_to != topic:
        reason = f"it was published on {sent_to!r}, and this function consumes {topic!r}"
    else:
        try:
            return decode(kind, push.data)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            reason = f"not a valid {kind.__name__}: {exc.error_count()} error(s), first at {where}: {first['msg']}"
    log.error(
        "%s: acknowledged and dropped message %s, which can never succeed: %s",
        consumer,
        push.message_id,
        reason,
        extra={"message_id": push.message_id, "body_preview": push.data[:_PREVIEW_BYTES].decode("utf-8", "replace")},
    )
    return None


def serve(request: Any, kind: type[M], stage: Callable[[App], Callable[[M], Outputs]]) -> tuple[Any, int]:
    """A stage function's request: a workflow's step (a JSON body with "workflow") is answered by
    `workflow`; anything else is a Pub/Sub push, turned into a CloudEvent exactly as functions-framework
    does for a `cloudevent` function (a 400 when it cannot be) and handed to `consume`."""
    body = request.get_json(silent=True) if request.method == "POST" else None
    if is_workflow(body):
        return workflow(lambda rt: read_messages(body, kind), kind, stage)
    consume(_cloud_event(request), kind, stage)
    return "OK", 200


def _cloud_event(request: Any) -> Any:
    from cloudevents import exceptions as cloudevent_errors
    from cloudevents.http import from_http
    from functions_framework import event_conversion
    from functions_framework.exceptions import EventConversionException
    from werkzeug.exceptions import BadRequest

    try:
        return from_http(request.headers, request.get_data())
    except (cloudevent_errors.MissingRequiredFields, cloudevent_errors.InvalidRequiredFields):
        pass  # a Pub/Sub push subscription's own format: converted below, as functions-framework does
    try:
        return event_conversion.background_event_to_cloud_event(request)
    except EventConversionException:
        raise BadRequest("neither a CloudEvent, a Pub/Sub push nor a workflow's step") from None
