"""The receiving end of the HTTP push between clouds, free of any web framework:
`PushReceiver.handle(HttpRequest) -> HttpResponse`. `functions/push_receiver/{aws,gcp,local}.py` serve it.

A push (see coinswarm.http.push_wire) is checked in this order; each refusal is a JSON
`{"error": code, "detail": text}` that says what is wrong:

    405 method_not_allowed       not a POST
    413 body_too_large           over `max_body_bytes` (checked before anything reads the body)
    401 unauthorized             missing, malformed, wrong, stale or future signature, or a replay of
                                 a request accepted before (by any container sharing the replay cache)
    415 unsupported_media_type   not Content-Type: application/json
    400 invalid_envelope         not the push envelope
    404 topic_not_consumed_here  a topic whose consumer does not run in this deployment
    422 invalid_message          the message is not a valid one of its topic's kind

A 4xx is final: the sender raises at once and does not retry. Then the topic's stage runs and what it
hands on goes to the deployment's bus: 200 with the topics published. When the store is busy or the
next hop unreachable, 503 with Retry-After: the sender retries the same message (a new signed
request), and the stage's own idempotency makes the repeat harmless: placement claims each intent id
once in the coordination store, the ledger appends each fill id once. Anything unexpected is a 500
(retried too), logged without the request's headers or body.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

from pydantic import ValidationError

from coinswarm.errors import (
    ClaimInProgressError,
    ConflictError,
    PermanentBusError,
    TransientBusError,
    TransientStoreError,
)
from coinswarm.http.json_http import JSON_TYPE, HttpRequest, HttpResponse, error, respond, sent_as_json
from coinswarm.http.push_wire import KINDS, MAX_BODY_BYTES, BadEnvelopeError, read_envelope
from coinswarm.http.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, Authenticator, AuthError
from coinswarm.observability.logs import cycle_context
from coinswarm.ports.bus import Bus
from coinswarm.stages.messages import Message, decode

logger = logging.getLogger(__name__)

Route = Callable[[Any], list[tuple[str, Message]]]
_MAX_ERRORS, _MAX_MSG = 10, 200


class PushReceiver:
    """`routes`: the stage of each topic (`app.stages.routes()`); `consumed`: the topics this deployment
    consumes here; `bus`: where the stage's outputs go (called on first use when given as a factory)."""

    def __init__(
        self,
        auth: Authenticator,
        routes: Mapping[str, Route],
        consumed: Collection[str],
        bus: Bus | Callable[[], Bus],
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, got {max_body_bytes}")
        unrouted = sorted(set(consumed) - set(routes))
        if unrouted:
            raise ValueError(f"no stage consumes {', '.join(unrouted)}")
        self.auth = auth
        self.routes = dict(routes)
        self.consumed = frozenset(consumed)
        self._bus = bus
        self._lock = threading.Lock()
        self.max_body_bytes = max_body_bytes

    def bus(self) -> Bus:
        if not isinstance(self._bus, Bus):
            with self._lock:
                if not isinstance(self._bus, Bus):
                    self._bus = self._bus()
        return self._bus

    def handle(self, request: HttpRequest) -> HttpResponse:
        try:
            return self._handle(request)
        except (ConflictError, TransientStoreError, TransientBusError) as exc:  # the replay claim, the stage, the bus
            logger.warning("push: %s; asked the sender to retry", type(exc).__name__)
            return error(
                503,
                "busy",
                "the store is busy or the next hop unreachable; retry the push (a repeat has its effect once)",
                headers={"Retry-After": "1"},
            )
        except Exception as exc:
            # Never the request's headers or body: they carry the signature.
            logger.error("push: unexpected %s", type(exc).__name__, exc_info=True)
            return error(500, "internal_error", "the push could not be handled; see the receiver's logs")

    def _handle(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return error(405, "method_not_allowed", "send a push as a POST", headers={"Allow": "POST"})
        body = bytes(request.body)
        if len(body) > self.max_body_bytes:
            return error(413, "body_too_large", f"the body is over the limit of {self.max_body_bytes} bytes")
        try:
            self.auth.authenticate(request.method, request.path, request.headers, body)
        except AuthError as exc:
            logger.warning("push: refused, not authenticated (%s)", exc.reason)
            return error(
                401,
                "unauthorized",
                f"{exc.reason}: sign each request with the push secret and the current time "
                f"({TIMESTAMP_HEADER}, {SIGNATURE_HEADER}); a signed request is accepted once",
                headers={"WWW-Authenticate": self.auth.challenge},
            )
        if not sent_as_json(request):
            return error(415, "unsupported_media_type", f"send the body as JSON with Content-Type: {JSON_TYPE}")
        try:
            pushed = read_envelope(body)
        except BadEnvelopeError as exc:
            return error(400, "invalid_envelope", f"{exc}; see coinswarm.http.push_wire for the body")
        with cycle_context(pushed.cycle_id[:128]):
            if pushed.topic not in self.consumed:
                here = ", ".join(sorted(self.consumed)) or "none"
                logger.warning("push: refused topic %r, not consumed here", pushed.topic[:64])
                return error(
                    404,
                    "topic_not_consumed_here",
                    f"this deployment consumes {here} by push; check push.urls and deploy.placement of the sender",
                )
            kind = KINDS[pushed.topic]
            try:
                message = decode(kind, json.dumps(pushed.message))
            except ValidationError as exc:
                fields = [
                    {"loc": ".".join(str(p) for p in err["loc"]) or "message", "msg": str(err["msg"])[:_MAX_MSG]}
                    for err in exc.errors(include_url=False, include_input=False)[:_MAX_ERRORS]
                ]
                return error(
                    422,
                    "invalid_message",
                    f"not a valid {kind.__name__}: {exc.error_count()} error(s), first at message.{fields[0]['loc']}",
                    extra={"fields": fields},
                )
            if message.cycle_id != pushed.cycle_id:
                return error(422, "invalid_message", "cycle_id differs from the message's own cycle_id")
            return self._run(pushed.topic, pushed.push_id, message)

    def _run(self, topic: str, push_id: str, message: Message) -> HttpResponse:
        try:
            outputs = self.routes[topic](message)
            bus = self.bus()
            for out_topic, out in outputs:
                bus.publish(out_topic, out)
        except ClaimInProgressError as exc:  # a duplicate while another delivery holds the message's claim
            logger.warning("push %s: %s; asked the sender to retry", push_id, exc)
            return error(
                503,
                "in_progress",
                "another delivery of this message is being handled; retry the push: it gets that delivery's "
                f"result once done, or takes that delivery's claim over if it died ({exc.retry_after_s} s at most)",
                headers={"Retry-After": "1"},  # the holder is usually done in well under a second
            )
        except PermanentBusError as exc:
            logger.error("push %s: the next hop refused what %s handed on: %s", push_id, topic, exc)
            return error(502, "next_hop_refused", "this deployment could not hand the result on; see its logs")
        published = [out_topic for out_topic, _ in outputs]
        logger.info("push %s: handled %s; published %s", push_id, topic, published, extra={"published": published})
        return respond(200, {"topic": topic, "cycle_id": message.cycle_id, "push_id": push_id, "published": published})
