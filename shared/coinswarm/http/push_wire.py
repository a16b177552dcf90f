"""The signed HTTP push between clouds, on the wire: what `HttpPushBus` sends and `PushReceiver` reads.

One POST carries one stage message, signed as `coinswarm.http.signing` describes, with this body:

    {"topic": "placements", "cycle_id": "cycle-1718000000", "push_id": "<32 hex>", "message": {...}}

`message` is the stage message exactly as the other buses carry it (`coinswarm.stages.messages.encode`);
`topic` and `cycle_id` are what SQS and Pub/Sub carry as attributes. They travel inside the signed body
(headers are not signed), so neither can be altered. `push_id` is new for every attempt: a retry of the
same message, even within the same second, is a different signed request, so the receiver's replay
cache (which refuses a second copy of one signed request) never refuses a sender's own retry. That a
repeated message has its effect once is the stages' business (placement claims each intent id once, the
ledger appends each fill once), as it is for a queue's redelivery.

Which function consumes a topic, and so which cloud a push for it goes to, is `CONSUMERS` read
against `deploy.placement` in the configuration.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coinswarm.errors import CoinswarmError
from coinswarm.stages.messages import (
    CANDLES,
    DECISIONS,
    PLACEMENTS,
    SCORES,
    CandlesReady,
    DecisionReady,
    Message,
    PlacementDone,
    ScoresReady,
    encode,
)

CONSUMERS: Mapping[str, str] = {
    CANDLES: "agent_scoring",
    SCORES: "committee_vote",
    DECISIONS: "order_placement",
    PLACEMENTS: "trade_logging",
}
"""The function that consumes each topic (the same hops as the SQS queues and Pub/Sub topics)."""

PRODUCERS: Mapping[str, tuple[str, ...]] = {
    CANDLES: ("tick_ingest", "manual_trade"),  # manual_trade's "run a cycle" ingests
    SCORES: ("agent_scoring",),
    DECISIONS: ("committee_vote",),
    PLACEMENTS: ("order_placement",),
}
"""The functions that hand each topic on (Terraform's `producers` local mirrors this)."""

KINDS: Mapping[str, type[Any]] = {
    CANDLES: CandlesReady,
    SCORES: ScoresReady,
    DECISIONS: DecisionReady,
    PLACEMENTS: PlacementDone,
}
"""The message each pushable topic carries."""

PUSH_SECRET_ENV = "COINSWARM_PUSH_SECRET"  # the push secret(s) where no secret store is used (local runs)
MAX_BODY_BYTES = 262_144  # as SQS: a message that fits a queue fits a push
PUSH_ID = re.compile(r"[0-9a-f]{32}")


class BadEnvelopeError(CoinswarmError, ValueError):
    """The body is not a push envelope; the text says what is wrong (never the body itself)."""

    http_status = 400


@dataclass(frozen=True, slots=True)
class Envelope:
    topic: str
    cycle_id: str
    push_id: str
    message: Any  # the message's JSON value, validated by the receiver against KINDS[topic]


def envelope(topic: str, message: Message, push_id: str | None = None) -> bytes:
    """The body of one push attempt (a fresh push id unless one is given)."""
    push_id = push_id or uuid.uuid4().hex
    head = json.dumps({"topic": topic, "cycle_id": message.cycle_id, "push_id": push_id})
    return f'{head[:-1]}, "message": {encode(message)}}}'.encode()


def read_envelope(body: bytes) -> Envelope:
    """The envelope of a push; BadEnvelopeError when the body is not one."""
    try:
        data = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_refuse_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite,
        )
    except UnicodeDecodeError:
        raise BadEnvelopeError("the body is not UTF-8 text") from None
    except BadEnvelopeError:
        raise
    except json.JSONDecodeError as exc:
        raise BadEnvelopeError(f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (RecursionError, ValueError):
        raise BadEnvelopeError("the body is not JSON that can be read") from None
    if not isinstance(data, dict):
        raise BadEnvelopeError("the body must be a JSON object")
    missing = [k for k in ("topic", "cycle_id", "push_id", "message") if k not in data]
    if missing:
        raise BadEnvelopeError(f"the body lacks {', '.join(missing)}")
    extra = sorted(set(data) - {"topic", "cycle_id", "push_id", "message"})
    if extra:
        raise BadEnvelopeError(f"unknown field(s) in the body: {', '.join(k[:32] for k in extra[:5])}")
    topic, cycle_id, push_id = data["topic"], data["cycle_id"], data["push_id"]
    if not isinstance(topic, str) or not isinstance(cycle_id, str) or not isinstance(push_id, str):
        raise BadEnvelopeError("topic, cycle_id and push_id must be strings")
    if not PUSH_ID.fullmatch(push_id):
        raise BadEnvelopeError("push_id must be 32 lower-case hex digits (uuid4().hex)")
    if not isinstance(data["message"], dict):
        raise BadEnvelopeError("message must be a JSON object")
    return Envelope(topic, cycle_id, push_id, data["message"])


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise BadEnvelopeError("a key appears twice in one object")
    return obj


def _finite(text: str) -> float:
    """A JSON number as a float; one too large to be finite (`1e999`) is refused, not read as infinity."""
    x = float(text)
    if not math.isfinite(x):
        raise BadEnvelopeError(f"the number {text[:24]} is too large to be finite; every number must be finite")
    return x


def _refuse_constant(name: str) -> Any:
    raise BadEnvelopeError(f"{name} is not a number JSON allows")


def consumed_on(placement: Mapping[str, str], cloud: str) -> frozenset[str]:
    """The pushable topics whose consumer `deploy.placement` puts on `cloud` (a function it does not
    name runs on AWS, as DeployConfig reads it)."""
    return frozenset(topic for topic, consumer in CONSUMERS.items() if placement.get(consumer, "aws") == cloud)


def received_on(placement: Mapping[str, str], cloud: str) -> frozenset[str]:
    """The topics pushed to `cloud`'s push receiver: consumed there, handed on by a function on another
    cloud. A cloud that receives none deploys no push receiver."""
    return frozenset(
        topic
        for topic in consumed_on(placement, cloud)
        if any(placement.get(p, "aws") != cloud for p in PRODUCERS[topic])
    )


def pushed_from(placement: Mapping[str, str], cloud: str) -> frozenset[str]:
    """The topics a function on `cloud` must push over HTTP: their consumer runs on another cloud."""
    return frozenset(CONSUMERS) - consumed_on(placement, cloud)
