"""The outbox: what a stage handed on for a message, kept with the message's claim, so that a delivery
whose hand-on was lost is answered with the very same messages.

Delivery is at least once. A stage may see a message again after it committed its state: its publish
failed, or the acknowledgement was lost. A stage whose state then says "done already" would hand on
nothing, and the symbol's cycle would be lost downstream. So each committing stage runs its work under a
claim on the message (the coordination store's idempotency record, keyed by the stage, the cycle, the
symbol and a digest of the message's body) and completes the claim with its outputs:

* a redelivery after the claim completed hands on the kept outputs: the same bodies, hence the same ids,
  and the next stage's own outbox sees a repeat and hands on its kept outputs in turn;
* a duplicate that arrives while another worker holds the claim hands on nothing: that worker either
  completes (and publishes) or fails, and then its own redelivery runs the work again;
* a failure during the work drops the claim, so the retry runs the work again.

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

from coinswarm.ports.clock import Clock
from coinswarm.ports.coordination import CoordinationStore
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

IN_PROGRESS_TTL_S = 300  # a claim older than this is taken over: its worker is presumed dead
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

        `stage` names the claim ("ingested", "scored", ...); a message that fans out per symbol (a tick)
        takes one claim per symbol, so a failure on one symbol does not lose what the others did."""
        key = f"{stage}:{message.cycle_id}:{symbol}:{digest(message)}"
        owner = uuid.uuid4().hex  # this attempt: only it may complete or abandon the claim
        coordination = self.coordination
        earlier = coordination.begin(key, owner=owner, now=self.clock.now(), in_progress_ttl_s=self.in_progress_ttl_s)
        if earlier is not None:
            return [] if earlier.result is None else unpack(earlier.result)
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
        pass

    def once(self, stage: str, message: Received, symbol: str, work: Callable[[], Outputs]) -> Outputs:
        return work()


NO_OUTBOX: Outbox = _NoOutbox()
