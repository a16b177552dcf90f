"""A step of the cycle's workflow on Google Cloud (`deploy.chain = "workflow"`, functions.workflow_step):
the stage runs on the step's messages and their outputs are answered as JSON, published nowhere. 400 for
a payload that is not the contract (the workflow dead-letters the cycle), 503 for `ClaimInProgressError`
and 500 for any other failure (the workflow retries both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from coinswarm.adapters.pubsub_bus import route_for
from coinswarm.errors import ClaimInProgressError
from coinswarm.observability.logs import cycle_context
from coinswarm.stages.messages import CycleTick, Message
from coinswarm.wiring.bootstrap import App
from functions.gcp_runtime import Runtime, log, runtime
from functions.gcp_schedule import cycle_tick
from functions.workflow_step import BadWorkflowPayloadError, read_time
from functions.workflow_step import answer as workflow_answer


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
