"""The outbox: what a stage handed on for a message, kept with the message's claim, so that a delivery
whose hand-on was lost is answered with the very same messages.

`Outbox.once(stage, message, symbol, work)` runs `work` under a claim on the message (the coordination
store's idempotency record) and completes the claim with its outputs. It promises:

* a repeat of a message whose claim completed gets the kept outputs, and `work` does not run again;
* a repeat while the claim is in progress raises `ClaimInProgressError` (retry later, never acknowledge);
* a failure inside `work` drops the claim and propagates, so a retry runs the work again.

`in_progress_ttl_s(function_timeout_s)` is how long a claim stays in progress; `NO_OUTBOX` runs the
work and keeps nothing (wiring that delivers each message once). Why, and the timing against each
bus's redeliveries: docs/outbox.md.
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
    dead and a redelivery takes the claim over (docs/outbox.md)."""
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
