"""The outbox: what a stage handed on for a message, kept with the message's claim, so that a delivery
whose hand-on was lost is answered with the very same messages.

Delivery is at least once. A stage may see a message again after it committed its state: its publish
failed, or the acknowledgement was lost. A stage whose state then says "done already" would hand on
nothing, and the symbol's cycle would be lost downstream. So each committing stage runs its work under a
claim on the message (the coordination store's idempotency record, keyed by the stage, the cycle, the
symbol and a digest of the message's body) and completes the claim with its outputs:

* a redelivery after the claim completed hands on the kept outputs: the same bodies, hence the same ids,
  and the next stage's own outbox sees a repeat and hands on its kept outputs in turn;
* a duplicate that arrives while the claim is in progress raises `ClaimInProgressError` (a
  `TransientStoreError`: retry later). Acknowledging it would lose the message whenever the holder is
  a worker that was killed mid-run: its claim stays in progress, and the bus's redeliveries would each
  be acknowledged with nothing handed on. Refused instead, the duplicate comes back: after the holder
  completed, it gets the kept outputs; after the claim expired (the holder is dead), it takes the claim
  over and runs the work (placement then finds an order the dead worker sent by its client order id);
* a failure during the work drops the claim, so the retry runs the work again.

Every trigger turns `ClaimInProgressError` into "deliver it again later", logged as a warning: an SQS batch
item failure, a raised asynchronous Lambda invocation (Lambda retries it), a non-2xx answer to a Pub/Sub
push, a 503 with Retry-After to a signed HTTP push (`coinswarm.http.push_receiver`; when the sender's
own retries, seconds apart, run out, its function fails and its trigger redelivers the message it was
handling, whose outbox pushes the same message again). The local mesh (`InProcessBus`) delivers each
message once, in one process, one after the other: no duplicate there can meet a claim in progress but
one left by a process killed mid-run, and then the error propagates and the run fails, saying when to
run it again.

How long a claim stays in progress, `in_progress_ttl_s(function_timeout_s)`: the timeout of the
functions that take it plus `CLAIM_MARGIN_S`. A claim is taken during an invocation, so its holder is
dead (the platform stopped it) once the timeout has passed; the margin covers the clocks of two workers
disagreeing. And it must run out before the bus stops redelivering, best before its first redelivery
of a killed invocation, so that the redelivery takes the claim over:

* AWS, every function's timeout `deploy.timeout_s` (Terraform's `var.timeout_s`, 30 s, and at most 30 s
  on both sides): claims last 30 + 10 = 40 s (`IN_PROGRESS_TTL_S`, the default), long enough for every
  timeout the configuration accepts (a shorter one could build its outboxes with a shorter claim). Chain
  "invoke": Lambda retries a failed (killed, timed out) invocation 1 minute after it failed and again 2
  minutes later (`lambda_invoke_bus.ASYNC_RETRY_DELAYS_S`): the first retry comes at least 60 s after
  the claim, past its 40 s. Chain "queues": the record comes back when its visibility timeout (180 s
  from its receive, `sqs_bus.QueueSpec.visibility_timeout_s`) runs out; the claim was taken at most 30 s
  after the receive, so it expired at the latest 70 s after it. A duplicate refused while its holder
  lives comes back after the same 60 or 180 s, when the holder (30 s at most) has long completed.
* Google Cloud, the functions' timeout is the push's ack deadline, `GCP_FUNCTION_TIMEOUT_S` (60 s,
  `pubsub_bus.ACK_DEADLINE_S`): claims there last 70 s. Pub/Sub redelivers a refused or failed push
  after 10 s, then about twice as long each time (`pubsub_bus.RETRY_BACKOFF_S`), 5 deliveries in all
  (`MAX_DELIVERY_ATTEMPTS`): the 2nd to 4th come about 10, 30 and 70 s after the first, the 5th about
  150 s after it, past the claim (and a message that still fails waits in the dead-letter subscription).
  So a container on Google Cloud builds its outboxes with `in_progress_ttl_s(GCP_FUNCTION_TIMEOUT_S)`
  (functions/gcp_common.py passes it to the composition root as `function_timeout_s`).

tests/unit/test_outbox.py pins this arithmetic against the constants of the buses.

What it costs: two coordination writes per stage and message (the claim, then its completion with the
outputs), and the encoding of the outputs. Wiring that delivers every message once, in this process
(fused wiring, a backtest), has nothing to guard against: it gives the stages `NO_OUTBOX`, which runs
the work and keeps nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from coinswarm.errors import ClaimInProgressError
from coinswarm.ports.clock import Clock
from coinswarm.ports.coordination import CoordinationStore, IdempotencyStatus
from coinswarm.ports.state import JSON
from coinswarm.stages.messages import (
    CANDLES,
    DECISIONS,
    LOGGED,
    PLACEMENTS,
    SCORES,
    CandlesReady,
    CycleTick,
    DecisionReady,
    Message,
    PlacementDone,
    ScoresReady,
    TradesLogged,
    decode,
    encode,
)

Outputs = list[tuple[str, Message]]

CLAIM_MARGIN_S = 10  # beyond the functions' timeout: two workers' clocks may disagree by this much
AWS_FUNCTION_TIMEOUT_S = 30  # deploy.timeout_s's default (Terraform's var.timeout_s)
GCP_FUNCTION_TIMEOUT_S = 60  # a Cloud Function's timeout: the push's ack deadline (pubsub_bus.ACK_DEADLINE_S)


def in_progress_ttl_s(function_timeout_s: int) -> int:
    """How long a claim taken by a function with this timeout stays in progress: past it, its holder is
    dead and a redelivery takes the claim over (see the module's docstring for the arithmetic)."""
    if function_timeout_s < 1:
        raise ValueError(f"a function's timeout is at least 1 s, got {function_timeout_s}")
    return function_timeout_s + CLAIM_MARGIN_S


IN_PROGRESS_TTL_S = in_progress_ttl_s(AWS_FUNCTION_TIMEOUT_S)  # 40 s: the default deployment, on AWS
KEPT_S = 7 * 86_400  # how long the outputs answer redeliveries (longer than any queue keeps a message)

#: The message type on each topic a stage hands on to, to read kept outputs back.
KIND_OF_TOPIC: dict[str, type[Any]] = {
    CANDLES: CandlesReady,
    SCORES: ScoresReady,
    DECISIONS: DecisionReady,
    PLACEMENTS: PlacementDone,
    LOGGED: TradesLogged,
}

Received = CycleTick | CandlesReady | ScoresReady | DecisionReady


def digest(message: Message) -> str:
    """What tells a redelivery (the same body) from another message of the same cycle and symbol."""
    return hashlib.sha256(encode(message).encode()).hexdigest()[:32]


def pack(outputs: Outputs) -> JSON:
    return {"out": [[topic, encode(message)] for topic, message in outputs]}


def unpack(kept: JSON) -> Outputs:
    return [(topic, decode(KIND_OF_TOPIC[topic], body)) for topic, body in kept["out"]]


class Outbox:
    """Runs a stage's work for a message at most once per claim, and answers repeats with its outputs."""

    def __init__(
        self,
        coordination: CoordinationStore,
        clock: Clock,
        *,
        in_progress_ttl_s: int = IN_PROGRESS_TTL_S,
        kept_s: int = KEPT_S,
    ) -> None:
        self.coordination = coordination
        self.clock = clock
        self.in_progress_ttl_s = in_progress_ttl_s
        self.kept_s = kept_s

    def once(self, stage: str, message: Received, symbol: str, work: Callable[[], Outputs]) -> Outputs:
        """`work()`'s outputs for this message and symbol, run by one delivery; kept for the repeats.
        Raises `ClaimInProgressError` while another delivery holds the claim: deliver it again later.

        `stage` names the claim ("ingested", "scored", ...); a message that fans out per symbol (a tick)
        takes one claim per symbol, so a failure on one symbol does not lose what the others did."""
        key = f"{stage}:{message.cycle_id}:{symbol}:{digest(message)}"
        owner = uuid.uuid4().hex  # this attempt: only it may complete or abandon the claim
        coordination = self.coordination
        earlier = coordination.begin(key, owner=owner, now=self.clock.now(), in_progress_ttl_s=self.in_progress_ttl_s)
        if earlier is not None:
            if earlier.status == IdempotencyStatus.IN_PROGRESS or earlier.result is None:
                raise ClaimInProgressError(key, earlier.expires_ts - self.clock.now())
            return unpack(earlier.result)
        try:
            outputs = work()
        except BaseException:
            coordination.abandon(key, owner=owner)
            raise
        coordination.complete(key, pack(outputs), owner=owner, now=self.clock.now(), ttl_s=self.kept_s)
        return outputs


class _NoOutbox(Outbox):
    """For wiring that delivers each message exactly once, in process: the work runs, nothing is kept."""

    def __init__(self) -> None:  # no store: nothing is claimed or kept
        self.in_progress_ttl_s = IN_PROGRESS_TTL_S
        self.kept_s = KEPT_S

    def once(self, stage: str, message: Received, symbol: str, work: Callable[[], Outputs]) -> Outputs:
        return work()


NO_OUTBOX: Outbox = _NoOutbox()
