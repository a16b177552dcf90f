"""The replay cache of a whole deployment: each accepted signature claimed in the coordination store.

`InMemorySeenSignatures` (coinswarm.http.signing) remembers what one process accepted; a copy of a
signed request sent to another warm container of the same function would pass there. This one claims
`replay:<signature>` with one conditional write in the coordination store (DynamoDB, Firestore, or
the SQLite file), kept until the end of the request's replay window: every container sharing the store
refuses the second copy, and of two racing copies exactly one wins. The store's own expiry (a TTL
attribute, or `purge_expired`) drops the claims afterwards.

Both implement `SeenSignatures.remember(signature, expires_ts) -> bool`: pick with `seen_signatures`.
Every deployed endpoint claims in the store: the push receiver (`replay:`) and the manual trade endpoint
(`manual_trade_authenticator`, `replay:manual_trade:`), so that a captured signed request is accepted
once, whichever instance it reaches and however often the instances restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from coinswarm.http.signing import HmacAuthenticator, InMemorySeenSignatures, Secret, SeenSignatures
from coinswarm.ports.clock import Clock
from coinswarm.ports.coordination import CoordinationStore

KEY_PREFIX = "replay:"
MANUAL_TRADE_KEY_PREFIX = "replay:manual_trade:"


class StoredSeenSignatures(SeenSignatures):
    def __init__(self, coordination: CoordinationStore, clock: Clock, *, key_prefix: str = KEY_PREFIX) -> None:
        self.coordination = coordination
        self.clock = clock
        self.key_prefix = key_prefix

    def remember(self, signature: str, expires_ts: int) -> bool:
        now = self.clock.now()
        # Held as an in-progress claim until just after `expires_ts` (the window is inclusive); by the
        # time the store would let another owner take it over, the timestamp is refused as stale anyway.
        earlier = self.coordination.begin(
            f"{self.key_prefix}{signature}",
            owner=uuid.uuid4().hex,
            now=now,
            in_progress_ttl_s=max(1, expires_ts - now + 1),
        )
        return earlier is None

    def __repr__(self) -> str:
        return f"StoredSeenSignatures({type(self.coordination).__name__})"


def seen_signatures(clock: Clock, coordination: CoordinationStore | None = None) -> SeenSignatures:
    """The deployment-wide cache when given a coordination store; otherwise this process's own."""
    if coordination is None:
        return InMemorySeenSignatures(clock)
    return StoredSeenSignatures(coordination, clock)


def manual_trade_authenticator(
    secrets: Sequence[Secret], clock: Clock, coordination: CoordinationStore
) -> HmacAuthenticator:
    """The manual trade endpoint's check of signed requests, each signature claimed in `coordination`
    (the deployment's store) rather than remembered by this process alone."""
    return HmacAuthenticator(
        secrets, clock, seen=StoredSeenSignatures(coordination, clock, key_prefix=MANUAL_TRADE_KEY_PREFIX)
    )
