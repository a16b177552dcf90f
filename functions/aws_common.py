"""What every AWS Lambda entry point shares: the one place with the per-container Logger and bus wiring.

`AwsFunction(name, trigger)` is one deployed function's wiring, made at import of its `aws.py`: its
powertools Logger (JSON lines, the cycle id as correlation id, every configured secret redacted), what
its trigger needs (powertools' batch utility for a stage function only), and, on first use, the
container's App and the bus of `deploy.chain`. Nothing is built at import.

`consume` takes a stage function's event as an asynchronous invocation (chain "invoke"), an SQS batch
(chain "queues") or a workflow's step (chain "workflow"): it raises for what Lambda should retry and
dead-letter, lists an SQS record that failed in `batchItemFailures`, and refuses a
`ClaimInProgressError` so the event comes back later. What happens to a failed message, chain by chain:
docs/deploying.md. `scheduled_tick` turns the schedule's event into the cycle's `CycleTick`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aws_lambda_powertools import Logger
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from coinswarm.adapters.lambda_invoke_bus import BadInvokeEventError, LambdaInvokeBus, read_event
from coinswarm.adapters.sqs_bus import SqsBus
from coinswarm.errors import ClaimInProgressError, CoinswarmError
from coinswarm.http.push_wire import KINDS, PUSH_SECRET_ENV
from coinswarm.http.signing import rotation
from coinswarm.observability.logs import SecretRedactor, secret_values
from coinswarm.ports.bus import Bus
from coinswarm.stages.messages import (
    PLACEMENTS,
    CandlesReady,
    CycleTick,
    DecisionReady,
    Message,
    PlacementDone,
    ScoresReady,
    decode,
    problems,
    worth_logging,
)
from coinswarm.wiring.bootstrap import App
from coinswarm.wiring.cloud import container_app
from functions import cold_start
from functions.workflow_step import BadWorkflowPayloadError, is_workflow, read_messages
from functions.workflow_step import answer as workflow_answer

if TYPE_CHECKING:
    from coinswarm.config.settings import Settings

In = TypeVar("In", CycleTick, CandlesReady, ScoresReady, DecisionReady, PlacementDone)
T = TypeVar("T")
Outputs = Sequence[tuple[str, Message]]
Stage = Callable[[App], Callable[[Any], Outputs]]
"""Which stage of the App a function runs: `lambda app: app.stages.scoring.handle`."""
Trigger = Literal["message", "schedule", "http"]
"""message: a stage function, invoked asynchronously with one message or by an SQS batch of them."""
TOPIC_OF_KIND: dict[type[Any], str] = {kind: topic for topic, kind in KINDS.items()}

MANUAL_SECRET_ENV = "COINSWARM_MANUAL_TRADE_SECRET"


class AwsFunction:
    def __init__(self, name: str, trigger: Trigger) -> None:
        self.name = name
        self.trigger = trigger
        self.logger = Logger(service=f"coinswarm-{name}")
        if trigger == "message":
            import aws_lambda_powertools.utilities.batch  # noqa: F401  (at init, not on the first batch)
        self._lock = threading.RLock()
        self._app: App | None = None
        self._bus: Bus | None = None
        self._outbound: Any = None
        self._built: dict[Callable[[App], Any], Any] = {}
        self._redactor: SecretRedactor | None = None
        self._extra_secrets: set[str] = set()
        cold_start.loaded()  # made after the entry point's imports: they are all in

    # -- per container ---------------------------------------------------------------------------

    def app(self) -> App:
        """The container's App; the first time this function sees it, its bus and redaction too."""
        app = container_app(settings_from=aws_settings)
        if app is not self._app:
            with self._lock:
                if app is not self._app:
                    self._bus = None  # built on first use: a function that hands nothing on never pays for it
                    self._outbound = None
                    self._built.clear()
                    self._app = app
                    self._redact()
        return app

    def bus(self) -> Bus:
        """The bus of `deploy.chain` on AWS: an asynchronous invocation of the consumer, or its SQS queue."""
        app = self.app()
        with self._lock:
            if self._bus is None:
                self._bus = chain_bus(app)
            return self._bus

    def outbound(self) -> Any:
        """Where this function's outputs go: the chain's bus (`bus()`), except the topics whose consumer
        `deploy.placement` puts on Google Cloud, which are pushed over signed HTTP (built on first use: a
        deployment on AWS alone never loads the push or needs its secret)."""
        app = self.app()
        with self._lock:
            if self._outbound is None:
                from coinswarm.http.push_wire import pushed_from

                pushed = pushed_from(app.settings.deploy.placement, "aws")
                if not pushed:
                    self._outbound = self.bus()
                else:
                    from coinswarm.adapters.http_push_bus import DeploymentBus, HttpPushBus

                    settings, clock = app.settings, app.clock
                    self._outbound = DeploymentBus(
                        self.bus,
                        lambda: HttpPushBus.from_settings(settings, self.push_secrets(app), clock=clock),
                        pushed,
                    )
            return self._outbound

    def push_secrets(self, app: App) -> list[str]:
        """The signed push's secrets: `COINSWARM_PUSH_SECRET`, else the SSM SecureString
        `/{table_prefix}/push-secret`."""
        return self.secrets(app, PUSH_SECRET_ENV, "push-secret")

    def built(self, build: Callable[[App], T]) -> T:
        """`build(app)`, once per container (per App): a persistence layer, an endpoint, ..."""
        app = self.app()
        with self._lock:
            if build not in self._built:
                self._built[build] = build(app)
            made: T = self._built[build]
        return made

    def client(self, service: str) -> Any:
        """A boto3 client for `service` in the configured region (and endpoint: a local stand-in)."""
        import boto3

        aws = self.app().settings.aws
        return boto3.client(service, region_name=aws.region, endpoint_url=aws.endpoint_url)

    def add_secrets(self, values: Iterable[str]) -> None:
        """Redact these too (a secret the function fetched itself)."""
        with self._lock:
            self._extra_secrets.update(v for v in values if v)
            self._redact()

    def _redact(self) -> None:
        secrets = [*(secret_values(self._app.settings) if self._app else ()), *self._extra_secrets]
        handler: logging.Handler = self.logger.registered_handler
        if self._redactor is not None:
            handler.removeFilter(self._redactor)
        self._redactor = _KeepTraceback(secrets)
        handler.addFilter(self._redactor)

    # -- one message ------------------------------------------------------------------------------

    def run(self, message: In, stage: Stage) -> list[str]:
        """Hand `message` to the stage and publish what it returns (but a PlacementDone trade_logging would
        do nothing with); the topics published, in order."""
        app = self.app()
        self.logger.set_correlation_id(message.cycle_id)
        outputs = [(topic, out) for topic, out in stage(app)(message) if worth_sending(topic, out)]
        bus = self.outbound()
        for topic, out in outputs:
            bus.publish(topic, out)
        topics = [topic for topic, _ in outputs]
        self.logger.info(
            f"{type(message).__name__} handled",
            extra={"symbol": getattr(message, "symbol", None), "published": topics},
        )
        return topics

    # -- triggers ---------------------------------------------------------------------------------

    def consume(self, event: Any, context: Any, kind: type[In], stage: Stage) -> dict[str, Any]:
        """A stage function's event: an SQS batch (it has `Records`), else an asynchronous invocation."""
        if isinstance(event, dict) and "Records" in event:
            return self.sqs_batch(event, context, kind, stage)
        if is_workflow(event):  # chain "workflow": a step of the cycle's state machine
            return self.workflow(lambda app: read_messages(event, kind), kind, stage)
        return self.invoked(event, kind, stage)

    def workflow(self, read: Callable[[App], Sequence[Any]], kind: type[Any], stage: Stage) -> dict[str, Any]:
        """A workflow's step (`functions.workflow_step`): the messages `read` from its payload run through
        the stage, and its outputs answered, published nowhere (the state machine hands them on).
        Raises `BadWorkflowPayloadError` for a payload no retry can fix (the state machine's catch sends the
        cycle to its dead letter), `ClaimInProgressError` as itself (the state machine retries it by name)."""
        app = self.app()
        try:
            messages = read(app)
            outputs: list[tuple[str, Message]] = []
            for message in messages:
                self.logger.set_correlation_id(message.cycle_id)
                outputs += [(topic, out) for topic, out in stage(app)(message) if worth_sending(topic, out)]
            self.logger.info(
                f"workflow step: {len(messages)} {kind.__name__} handled",
                extra={"answered": [topic for topic, _ in outputs]},
            )
            return workflow_answer(outputs, kind, app.settings.committee.threshold)
        except BadWorkflowPayloadError as exc:
            self.logger.error(f"{self.name}: refused the workflow's payload: {exc}")
            raise
        except ClaimInProgressError as exc:
            self.logger.warning(f"{self.name}: {exc}; the workflow retries the step")
            raise
        except Exception:
            self.logger.exception(f"{self.name}: the workflow's step failed; the workflow retries or dead-letters it")
            raise
        finally:
            self.logger.set_correlation_id(None)

    def invoked(self, event: Any, kind: type[In], stage: Stage) -> dict[str, Any]:
        """One message from an asynchronous invocation (`LambdaInvokeBus`): decoded as `kind` and run.
        Raises when it cannot be (Lambda then retries it, and sends it to the dead-letter queue)."""
        self.app()
        try:
            envelope = read_event(event)
            self.logger.set_correlation_id(envelope.cycle_id)
            expected = TOPIC_OF_KIND[kind]
            if envelope.topic != expected:
                raise BadInvokeEventError(
                    f"this function consumes {expected!r}, not {envelope.topic[:40]!r}: the invocation reached the "
                    "wrong function"
                )
            try:
                message = decode(kind, envelope.body)
            except ValidationError as exc:
                raise BadInvokeEventError(
                    f"the {kind.__name__} in the event is malformed ({exc.error_count()} error(s)): {problems(exc)}"
                ) from exc
            return {"cycle_id": message.cycle_id, "published": self.run(message, stage)}
        except ClaimInProgressError as exc:  # a duplicate while another holds the claim: not an error, a "later"
            self.logger.warning(f"{self.name}: {exc}; Lambda retries the invocation")
            raise
        except Exception:
            self.logger.exception(f"{self.name}: the invocation failed; Lambda retries it, then dead-letters it")
            raise
        finally:
            self.logger.set_correlation_id(None)

    def sqs_batch(self, event: dict[str, Any], context: Any, kind: type[In], stage: Stage) -> dict[str, Any]:
        """An SQS batch: each record decoded as `kind` and run; failures reported one by one."""
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        self.app()

        def record_handler(record: Any) -> None:
            attributes = record.message_attributes  # the cycle, even when the body cannot be read
            self.logger.set_correlation_id(attributes["cycle_id"].string_value if "cycle_id" in attributes else None)
            try:
                self.run(decode(kind, record.body), stage)
            except ClaimInProgressError as exc:
                self.logger.warning(f"{self.name}: {exc}; SQS redelivers the record after its visibility timeout")
                raise

        # the Logger stands in for a logging.Logger: it logs each failed record with its traceback (but a
        # refused duplicate, logged above as the warning it is)
        batch_logger: Any = _BatchLog(self.logger)
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False, logger=batch_logger)
        try:
            response = process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        finally:
            self.logger.set_correlation_id(None)
        return dict(response)

    def scheduled_tick(self, event: dict[str, Any]) -> CycleTick:
        """The cycle the schedule asks for: every configured symbol, as of the newest candle closed by
        the event's time (the clock's now when the event has none)."""
        app = self.app()
        when = ScheduledEvent.model_validate(event).time
        return cycle_tick(app, int(when.timestamp()) if when is not None else app.clock.now())

    def manual_trade_secrets(self, app: App) -> list[str]:
        """The manual trade endpoint's signing secrets (call it from a `built` builder: once per
        container): `COINSWARM_MANUAL_TRADE_SECRET`, else the SSM SecureString
        `/{table_prefix}/manual-trade-secret`."""
        return self.secrets(app, MANUAL_SECRET_ENV, "manual-trade-secret")

    def secrets(self, app: App, env_name: str, parameter: str) -> list[str]:
        """Secrets from the environment variable `env_name` when set (local runs), else from the SSM
        SecureString `/{table_prefix}/{parameter}`. Several, comma-separated, during a rotation (the
        first signs, any verifies). Each is added to what the logs redact."""
        raw = os.environ.get(env_name)
        if not raw:
            name = f"/{app.settings.aws.table_prefix}/{parameter}"
            raw = self.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        secrets = rotation(raw)
        self.add_secrets(secrets)
        return secrets


def chain_bus(app: App) -> Bus:
    """The bus between this cloud's functions that `deploy.chain` names (built once per container)."""
    if app.settings.deploy.chain == "invoke":
        return LambdaInvokeBus.from_settings(app.settings)
    return SqsBus.from_settings(app.settings)


def worth_sending(topic: str, message: Message) -> bool:
    """Everything is handed on but a PlacementDone without a fill, which trade_logging would ignore."""
    return topic != PLACEMENTS or not isinstance(message, PlacementDone) or worth_logging(message)


def aws_settings() -> Settings:
    """The configuration of a Lambda container: its environment, plus the secret settings (the Cosmos DB
    key, the exchange's keys) read from SSM where Terraform's SECRET_SETTINGS says they are."""
    from coinswarm.config import load_settings
    from functions.secret_settings import aws_environment

    return load_settings(env=aws_environment())


class ScheduledEvent(BaseModel):
    """What tick_ingest reads from its trigger: `time`, present in EventBridge Scheduler's default
    payload (an EventBridge-shaped event, `source` "aws.scheduler", `detail` "{}"), in an EventBridge
    rule's "Scheduled Event", and in a target Input of `{"time": "<aws.scheduler.scheduled-time>"}`.
    Everything else is ignored."""

    model_config = ConfigDict(extra="ignore", defer_build=True)  # built on the first event, not at import

    time: AwareDatetime | None = None


def cycle_tick(app: App, when: int) -> CycleTick:
    """The cycle for every configured symbol as of the last candle closed at `when`: `cycle-<ts>`."""
    tf = app.settings.timeframe_s
    ts = when // tf * tf
    return CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=app.settings.symbols)


class _BatchLog:
    """The Logger as powertools' batch processor's logger, which logs each failed record with its
    traceback: a record refused as "not now" (an error whose class says `dead_letter = False`: a duplicate
    in progress, ClaimInProgressError) is not logged again."""

    def __init__(self, logger: Logger) -> None:
        self._logger = logger

    def warning(self, msg: str, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        if isinstance(exc_info, tuple) and isinstance(exc_info[1], CoinswarmError) and not exc_info[1].dead_letter:
            return
        self._logger.warning(msg, *args, exc_info=exc_info, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


class _KeepTraceback(SecretRedactor):
    """SecretRedactor for powertools' formatter, which writes `exc_info` but not `exc_text`: the
    redacted traceback the base class leaves in `exc_text` goes into the line's `exception` field."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        super().filter(record)
        if record.exc_info is None and record.exc_text:
            record.exception = record.exc_text
            record.exception_name = name
        return True
