"""The notifier: an event to every configured channel, at most once each, never in a stage's way.

"At most once" is keyed in the coordination store (ports/coordination.py): before sending an event to
a channel the notifier claims `notify:<channel>:<event key>` with `begin`; a claim that exists already
(another attempt sent it, or is sending it) means skip. The claim's in-progress ttl is as long as the
record's (KEEP_S): a process that dies mid-send leaves its claim in place, so a retried stage never
sends that event again (at most once, not at least once). Whatever the send came to, the claim is
completed with the outcome, a failed send included: the service may have received a request that
timed out, and a second copy is what the owner must not get. Events of kinds the configuration leaves
out are dropped before any claim.

`notify` never raises and never takes longer than about `budget_s` (every channel and retry within it,
see coinswarm.notify.sender): an error is logged (the channel's kind and host, never its URL or token)
and the stage goes on."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coinswarm.notify.channels import Channel
from coinswarm.notify.events import Event

if TYPE_CHECKING:
    import httpx

    from coinswarm.ports.clock import Clock
    from coinswarm.ports.coordination import CoordinationStore

logger = logging.getLogger(__name__)

KEEP_S = 7 * 86_400
"""How long a sent event's key is kept: far longer than any stage is retried."""


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    sent: bool
    detail: str


class Notifier:
    def __init__(
        self,
        channels: Sequence[Channel],
        coordination: CoordinationStore,
        clock: Clock,
        *,
        kinds: Iterable[str] | None = None,
        budget_s: float = 2.0,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.channels = list(channels)
        self.coordination = coordination
        self.clock = clock
        self.kinds = None if kinds is None else frozenset(kinds)
        self.budget_s = budget_s
        self._client = client
        self._sleep = sleep

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def client(self) -> httpx.Client:
        if self._client is None:
            import httpx  # on the first notification, not at a function's import

            self._client = httpx.Client(follow_redirects=False, headers={"User-Agent": "coinswarm-notify"})
        return self._client

    def notify(self, event: Event) -> list[Delivery]:
        """Send `event` to every channel that has not had it; what each came to. Never raises."""
        if not self.channels or (self.kinds is not None and event.kind not in self.kinds):
            return []
        started = time.monotonic()
        out: list[Delivery] = []
        for channel in self.channels:
            left = self.budget_s - (time.monotonic() - started)
            try:
                out.append(self._send_once(channel, event, max(0.0, left)))
            except Exception as exc:  # a store or client failure: the stage must not see it
                logger.warning(
                    "notify: %s for %s failed: %s", event.kind, channel.redacted, type(exc).__name__, exc_info=False
                )
                out.append(Delivery(channel.name, False, f"error {type(exc).__name__}"))
        return out

    def notify_all(self, events: Iterable[Event]) -> list[Delivery]:
        out: list[Delivery] = []
        for event in events:
            out.extend(self.notify(event))
        return out

    def _send_once(self, channel: Channel, event: Event, left_s: float) -> Delivery:
        from coinswarm.notify.sender import post_json

        key = f"notify:{channel.name}:{event.key}"
        owner = uuid.uuid4().hex
        now = self.clock.now()
        if self.coordination.begin(key, owner=owner, now=now, in_progress_ttl_s=KEEP_S) is not None:
            return Delivery(channel.name, False, "sent already")
        if left_s <= 0:
            outcome_detail, sent = "no time left in this stage's notification budget", False
            self.coordination.abandon(key, owner=owner)  # nothing went out: a later attempt may send it
            logger.warning("notify: %s to %s skipped: %s", event.kind, channel.redacted, outcome_detail)
            return Delivery(channel.name, sent, outcome_detail)
        outcome = post_json(
            self.client(),
            channel.url,
            channel.payload(event),
            deadline_s=left_s,
            accepted=channel.accepted,
            sleep=self._sleep,
        )
        result: dict[str, Any] = {"sent": outcome.sent, "detail": outcome.detail, "attempts": outcome.attempts}
        self.coordination.complete(key, result, owner=owner, now=self.clock.now(), ttl_s=KEEP_S)
        if outcome.sent:
            logger.info("notify: %s sent to %s (%s)", event.kind, channel.redacted, event.key)
        else:
            logger.warning("notify: %s to %s not sent: %s", event.kind, channel.redacted, outcome.detail)
        return Delivery(channel.name, outcome.sent, outcome.detail)


def notifier_from(settings: Any, coordination: CoordinationStore, clock: Clock) -> Notifier:
    """The notifier a configuration's `[notify]` section describes (no channel: a notifier that sends nothing)."""
    from coinswarm.notify.channels import channels_from

    notify = settings.notify
    return Notifier(channels_from(notify), coordination, clock, kinds=notify.events, budget_s=notify.budget_s)
