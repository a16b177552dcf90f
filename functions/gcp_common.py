"""What the Google Cloud entry points share, so that each of them stays a few lines.

* `runtime()`: once per container, the settings (COINSWARM_CONFIG and COINSWARM_* variables), JSON
  log lines for Cloud Logging with every configured secret redacted, the Pub/Sub bus, the signed HTTP
  push, and the App (`container_app`: each of its stages is built the first time it is used), each
  built on first use and reused while the container is warm.
* `consume(event, Kind, stage)`: a Pub/Sub push (a CloudEvent whose data is a MessagePublishedData)
  becomes a typed message, the stage runs, and each message it hands on is sent on: on Pub/Sub, or,
  when `deploy.placement` puts the topic's consumer on AWS, over the signed HTTP push to AWS's push
  receiver (`Runtime.publish`). Everything it logs carries the cycle id (and so Cloud Logging's trace)
  of the message, and the cycle id travels with every message, on either bus.
* `run_tick(at)`: the cycle Cloud Scheduler starts, as of the last candle closed at `at`.
* `serve(request, Kind, stage)`: a stage function's HTTP request, either a Pub/Sub push (read as
  functions-framework reads a CloudEvent, then `consume`) or a step of the cycle's workflow
  (`deploy.chain = "workflow"`, `functions.workflow_step`): `workflow(...)` runs the stage and answers
  its outputs as JSON, published nowhere; 400 for a payload that is not the contract (the workflow
  dead-letters the cycle), 503 for `ClaimInProgressError` and 500 for any other failure (the workflow
  retries both).
* `manual_trade_handler()`: the manual trade endpoint, its secret from Secret Manager.

Acknowledging a push (answering 2xx) or not is how a function tells Pub/Sub what to do next:

* a push that can never succeed (no Pub/Sub message in it, data that is not base64, a body that is
  not a valid message of the expected kind, a message meant for another function) is logged at ERROR
  with the reason and then acknowledged: redelivering it would fail the same way each time, and
  would only cost invocations until it dead-letters;
* anything else that fails (a busy or unreachable store, a publish that times out, a configuration
  that cannot be loaded, a bug) raises: the function answers 500, Pub/Sub redelivers with backoff,
  and after MAX_DELIVERY_ATTEMPTS the message waits in the dead-letter subscription, to be replayed
  once the cause is fixed. The stages are idempotent, so a redelivery never trades twice. A duplicate
  that arrives while another delivery holds the message's claim (`ClaimInProgressError`) is answered 503,
  logged as a warning: its redelivery gets the holder's result, or takes a dead holder's claim over.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from coinswarm.adapters.pubsub_bus import CYCLE_ID_ATTRIBUTE, TOPIC_ATTRIBUTE, PubSubBus, route_for
from coinswarm.config import Settings, load_settings
from coinswarm.errors import ClaimInProgressError, CoinswarmError
from coinswarm.http.signing import rotation
from coinswarm.observability.logs import configure_json_logging, cycle_context, secret_values
from coinswarm.ports.bus import Bus
from coinswarm.stages.messages import CycleTick, M, Message, decode
from coinswarm.stages.outbox import GCP_FUNCTION_TIMEOUT_S
from coinswarm.wiring.bootstrap import App
from coinswarm.wiring.cloud import container_app, reset_container_app
from functions import cold_start
from functions.workflow_step import BadWorkflowPayloadError, is_workflow, read_messages, read_time
from functions.workflow_step import answer as workflow_answer

log = logging.getLogger("coinswarm.gcp")

MANUAL_TRADE_SECRET_ENV = "COINSWARM_MANUAL_TRADE_SECRET"
MANUAL_TRADE_SECRET_ID = "manual-trade-secret"
PUSH_SECRET_ID = "push-secret"
CLOUD = "gcp"
SECRET_MANAGER_URL = "https://secretmanager.googleapis.com/v1"
_NOT_SETTINGS = frozenset({MANUAL_TRADE_SECRET_ENV})  # COINSWARM_* variables that are not configuration
_PREVIEW_BYTES = 160

Outputs = Sequence[tuple[str, Message]]


# -- the container ------------------------------------------------------------------------------------


class Runtime:
    """One container's settings, logging, buses and App. Built by `runtime()`; tests may build their own."""

    def __init__(
        self, settings: Settings, *, bus: PubSubBus | None = None, log_stream: Any = None, **app_overrides: Any
    ) -> None:
        """`bus`, `log_stream` (stdout by default) and `app_overrides` (build_app's keyword arguments)
        are for tests."""
        self.settings = settings
        self._bus = bus
        self._log_stream = log_stream
        self._app_overrides = app_overrides
        self._secrets = secret_values(settings)
        self._lock = threading.Lock()
        self._pushed: frozenset[str] | None = None
        self._push_secrets: list[str] | None = None
        self._outbound: Bus | None = None
        self._configure_logging()

    @property
    def app(self) -> App:
        # the claims of a Cloud Function last past its 60-s timeout (stages.outbox)
        return container_app(self.settings, **{"function_timeout_s": GCP_FUNCTION_TIMEOUT_S, **self._app_overrides})

    @property
    def bus(self) -> PubSubBus:
        if self._bus is None:
            with self._lock:
                if self._bus is None:
                    self._bus = PubSubBus.from_settings(self.settings)
        return self._bus

    @property
    def pushed(self) -> frozenset[str]:
        """The topics this container hands on over the signed HTTP push (see `pushed_topics`)."""
        if self._pushed is None:
            self._pushed = pushed_topics(self.settings.deploy.placement)
        return self._pushed

    def push_secrets(self) -> list[str]:
        """The signed push's secrets: `COINSWARM_PUSH_SECRET`, else Secret Manager's `push-secret`; read
        once per container (the first signs, any verifies) and redacted from every log line."""
        if self._push_secrets is None:
            from coinswarm.http.push_wire import PUSH_SECRET_ENV

            secrets = rotating_secrets(self.settings, PUSH_SECRET_ENV, PUSH_SECRET_ID)
            self.redact(*secrets)
            self._push_secrets = secrets
        return self._push_secrets

    @property
    def outbound(self) -> Bus:
        """Where a message is handed on, one by one: Pub/Sub, or the signed HTTP push for the topics in
        `pushed`. Each is built on first use: a deployment on Google alone never builds the push (nor
        needs its secret), and a function whose outputs all cross to AWS never builds a Pub/Sub client."""
        if self._outbound is None:
            from coinswarm.adapters.http_push_bus import DeploymentBus, HttpPushBus

            def push() -> Bus:
                return HttpPushBus.from_settings(self.settings, self.push_secrets(), clock=self.app.clock)

            bus = DeploymentBus(lambda: self.bus, push, self.pushed)
            with self._lock:
                if self._outbound is None:
                    self._outbound = bus
        return self._outbound

    def publish(self, outputs: Outputs) -> int:
        """Hand on what a stage returned: the messages for Pub/Sub together (one round trip), then each
        one whose consumer runs on AWS over the signed HTTP push. Raises when any could not be handed on
        (the caller's own message is then redelivered); returns how many were."""
        pushed = self.pushed
        native = [(topic, message) for topic, message in outputs if topic not in pushed]
        if native:
            self.bus.publish_many(native)
        for topic, message in outputs:
            if topic in pushed:
                self.outbound.publish(topic, message)
        return len(outputs)

    def redact(self, *values: str) -> None:
        """Keep these values (secrets fetched at run time) out of every log line from now on."""
        self._secrets = [*self._secrets, *values]
        self._configure_logging()

    def _configure_logging(self) -> None:
        configure_json_logging(project=self.settings.gcp.project, secrets=self._secrets, stream=self._log_stream)


def pushed_topics(placement: Mapping[str, str]) -> frozenset[str]:
    """The topics a function on Google Cloud hands on over the signed HTTP push: those whose consumer
    `deploy.placement` puts on AWS. Every other topic goes to Pub/Sub.

    A placement that puts no function on Google Cloud cannot be this deployment's (a function reading
    it runs there): it is the default, all on AWS, because the deployment did not give the function
    COINSWARM_DEPLOY__PLACEMENT. Then every topic goes to Pub/Sub, as in a deployment on Google alone,
    where the placement makes no difference."""
    from coinswarm.http.push_wire import pushed_from

    return pushed_from(placement, CLOUD) if CLOUD in placement.values() else frozenset()


_lock = threading.Lock()
_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime(container_settings())
    return _runtime


def use_runtime(rt: Runtime | None) -> None:
    """Install (or with None, forget) the container's runtime and its App: for tests."""
    global _runtime, _manual
    with _lock:
        _runtime, _manual = rt, None
    reset_container_app()


def container_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The configuration, leaving out the COINSWARM_* variables that carry secrets, not settings, and with
    the secret settings (the Cosmos DB key, the exchange's keys) read from Secret Manager where Terraform's
    SECRET_SETTINGS says they are (functions/secret_settings.py)."""
    from functions.secret_settings import with_secret_settings

    env = os.environ if env is None else env
    kept = {k: v for k, v in env.items() if k not in _NOT_SETTINGS}
    return load_settings(env=with_secret_settings(kept, access_secret))


# -- Pub/Sub pushes -----------------------------------------------------------------------------------


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


# -- a stage's HTTP request: a Pub/Sub push or a workflow's step ---------------------------------------


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


def workflow(read: Callable[[Runtime], Sequence[Any]], kind: type[Any], stage: Callable[[App], Any]) -> tuple[Any, int]:
    """A workflow's step: the messages `read` from its payload run through the stage, and the answer of
    `functions.workflow_step` returned as JSON (200); 400 when the payload is not the contract; a 503
    (retried by the workflow) when another delivery holds a message's claim; any other failure raises
    (500, retried too)."""
    from werkzeug.exceptions import ServiceUnavailable

    rt = runtime()
    consumer = route_for(kind).consumer if kind is not CycleTick else "tick_ingest"
    try:
        messages = read(rt)
    except BadWorkflowPayloadError as exc:
        log.error("%s: refused the workflow's payload: %s", consumer, exc)
        return {"error": "bad_request", "detail": str(exc)}, 400
    outputs: list[tuple[str, Message]] = []
    for message in messages:
        with cycle_context(message.cycle_id):
            try:
                outputs += stage(rt.app)(message)
            except ClaimInProgressError as exc:
                log.warning("%s: %s; the workflow retries the step", consumer, exc)
                raise ServiceUnavailable(str(exc), retry_after=exc.retry_after_s) from exc
            except Exception as exc:
                log.error("%s: the workflow's step failed (%s)", consumer, type(exc).__name__, exc_info=True)
                raise
    log.info(
        "%s: workflow step: %d %s handled",
        consumer,
        len(messages),
        kind.__name__,
        extra={"answered": [topic for topic, _ in outputs]},
    )
    return workflow_answer(outputs, kind, rt.settings.committee.threshold), 200


def workflow_tick(body: Any) -> tuple[Any, int]:
    """tick_ingest's workflow step, `{"workflow": true, "time": ...}`: the cycle as of `time` (never later
    than now), its CandlesReady answered."""

    def tick(rt: Runtime) -> list[CycleTick]:
        return [cycle_tick(rt.settings, min(read_time(body), rt.app.clock.now()))]

    return workflow(tick, CycleTick, lambda app: app.stages.ingest.handle)


# -- the scheduled cycle ------------------------------------------------------------------------------


def scheduled_at(headers: Mapping[str, str]) -> int | None:
    """When Cloud Scheduler meant this run for (its X-CloudScheduler-ScheduleTime header, RFC 3339), so
    that a retry of the same run is the same cycle. None without the header, or when it cannot be read."""
    raw = next((v for k, v in headers.items() if k.lower() == "x-cloudscheduler-scheduletime"), None)
    if raw:
        try:
            return int(datetime.fromisoformat(raw.strip().replace("Z", "+00:00")).timestamp())
        except ValueError:
            log.warning("tick_ingest: ignored an unreadable X-CloudScheduler-ScheduleTime header")
    return None


def cycle_tick(settings: Settings, at: int) -> CycleTick:
    """The cycle for every configured symbol, as of the last candle closed at `at`."""
    tf = settings.timeframe_s
    ts = at // tf * tf
    return CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=settings.symbols)


def run_tick(at: int | None = None) -> dict[str, Any]:
    """Ingest the candles closed by `at` (now when None; never later than now) and publish one
    CandlesReady per symbol that has new ones."""
    rt = runtime()
    app = rt.app
    now = app.clock.now()
    tick = cycle_tick(rt.settings, now if at is None else min(at, now))
    with cycle_context(tick.cycle_id):
        outputs = app.stages.ingest.handle(tick)
        rt.publish(outputs)
        symbols = [getattr(message, "symbol", "") for _, message in outputs]
        log.info("tick_ingest: %s published new candles of %d symbol(s)", tick.cycle_id, len(symbols))
    return {"cycle_id": tick.cycle_id, "ts": tick.ts, "symbols": symbols}


# -- the manual trade endpoint -----------------------------------------------------------------------


class SecretUnavailableError(CoinswarmError, RuntimeError):
    pass


def manual_trade_secrets(settings: Settings, env: Mapping[str, str] | None = None, *, session: Any = None) -> list[str]:
    """The manual trade endpoint's signing secrets: COINSWARM_MANUAL_TRADE_SECRET when set (local runs),
    else the latest version of the secret `manual-trade-secret` in Secret Manager."""
    return rotating_secrets(settings, MANUAL_TRADE_SECRET_ENV, MANUAL_TRADE_SECRET_ID, env, session=session)


def rotating_secrets(
    settings: Settings, env_name: str, secret_id: str, env: Mapping[str, str] | None = None, *, session: Any = None
) -> list[str]:
    """Secrets from the environment variable `env_name` when set (local runs), else the latest version
    of `secret_id` in Secret Manager. Several, comma-separated, during a rotation (the first signs,
    any verifies)."""
    env = os.environ if env is None else env
    raw = env.get(env_name) or access_secret(
        f"projects/{settings.gcp.project}/secrets/{secret_id}/versions/latest", session=session
    )
    return rotation(raw)


def access_secret(name: str, *, session: Any = None) -> str:
    """A Secret Manager secret version's payload, through its REST API with the function's service
    account (google-auth, which the Pub/Sub client brings along; no other library)."""
    if session is None:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    response = session.get(f"{SECRET_MANAGER_URL}/{name}:access", timeout=10)
    if response.status_code != 200:
        raise SecretUnavailableError(f"Secret Manager answered {response.status_code} for {name}")
    try:
        return base64.b64decode(response.json()["payload"]["data"]).decode()
    except (KeyError, TypeError, ValueError):
        raise SecretUnavailableError(f"Secret Manager's answer for {name} carries no payload") from None


_manual: Any = None


def manual_trade_handler() -> Any:
    """The container's ManualTradeHandler: signed requests (HMAC, the secrets fetched once), orders
    placed through the placement stage, `run_cycle` as Cloud Scheduler's tick."""
    global _manual
    if _manual is None:
        rt = runtime()
        with _lock:
            if _manual is None:
                from coinswarm.http.manual_trade import ManualTradeHandler, stored_close
                from coinswarm.http.owner_actions import owner_controls
                from coinswarm.http.replay_cache import manual_trade_authenticator

                secrets = manual_trade_secrets(rt.settings)
                rt.redact(*secrets)
                app = rt.app
                _manual = ManualTradeHandler(
                    place=lambda intent: app.stages.placement.place(intent, now=app.clock.now()),
                    run_cycle=run_tick,
                    clock=app.clock,
                    auth=manual_trade_authenticator(secrets, app.clock, app.coordination),
                    price_of=stored_close(app.state, app.settings.timeframe_s),
                    controls=owner_controls(app),
                )
    return _manual


cold_start.loaded()  # the last of an entry point's imports that weigh anything: they are all in
