"""The bus between clouds: each message POSTed, signed, to the push receiver of the cloud that consumes it.

`HttpPushBus.publish(topic, message)` sends the envelope of `coinswarm.http.push_wire` (the message as
the other buses encode it, with its topic and cycle id) to `urls[topic]`, signed with the newest secret
(`coinswarm.http.signing`: X-Coinswarm-Timestamp and X-Coinswarm-Signature). Every attempt is signed
afresh, with a new timestamp and push id, so the receiver's replay cache accepts the sender's own
retries while refusing a copy of any one request.

Delivery is at least once, as on a queue:

* 2xx: delivered.
* a timeout, a connection failure, 429 or any 5xx: retried, at most `attempts` times in all, after an
  exponential backoff with full jitter (no shorter than a Retry-After the receiver sent, within
  `max_backoff_s`). When they run out, `TransientBusError`: the caller fails, and its own trigger (the
  queue or push that brought it its message) delivers that again later. A read timeout may hide a
  push the receiver did handle; the retry repeats it, and the receiving stage's idempotency (one
  order per intent id, one ledger entry per fill id) makes the repeat harmless.
  A 503 `in_progress` (another delivery of the message holds its claim at the receiver, see
  `coinswarm.stages.outbox`) is retried the same way: the holder is usually done within the retries; if
  it died, its claim outlives them, and the trigger's redelivery comes after it expired.
* any other 4xx: `PermanentBusError` at once, with the reason the receiver gave. A retry would be
  refused the same way (wrong secret, a clock too far off, a topic that cloud does not consume).

The secrets are never logged, nor put in an error: they live in `_secrets` and in the signature only.
`DeploymentBus` sends each topic either here or to the cloud's own bus, from `deploy.placement`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import httpx

from coinswarm.adapters.retry import Backoff
from coinswarm.errors import PermanentBusError, TransientBusError
from coinswarm.http.json_http import JSON_TYPE
from coinswarm.http.push_wire import MAX_BODY_BYTES, envelope
from coinswarm.http.signing import sign
from coinswarm.ports.bus import Bus, Handler
from coinswarm.ports.clock import Clock, SystemClock
from coinswarm.stages.messages import Message

logger = logging.getLogger(__name__)

_REASON_CHARS = 300
DEFAULT_BACKOFF = Backoff(attempts=5, base_s=0.5, cap_s=8.0)


class HttpPushBus(Bus):
    def __init__(
        self,
        urls: Mapping[str, str],
        secrets: Sequence[str],
        *,
        clock: Clock | None = None,
        client: httpx.Client | None = None,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 25.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        max_body_bytes: int = MAX_BODY_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if backoff.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {backoff.attempts}")
        if isinstance(secrets, str | bytes):
            raise TypeError("secrets: give a list of secrets (the first signs), not a single string")
        sign(list(secrets), "POST", "/", b"", 0)  # refuses no secret, or one too short, now
        self._secrets = list(secrets)
        self.urls = dict(urls)
        self._paths = {topic: _signed_path(url) for topic, url in self.urls.items()}
        self.clock = clock or SystemClock()
        self._own_client = client is None
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s), follow_redirects=False
        )
        self.backoff = backoff
        self.max_body_bytes = max_body_bytes
        self.sleep = sleep
        self.rng = rng
        self._lock = threading.Lock()
        self.sent = 0
        self.retried = 0

    @classmethod
    def from_settings(cls, settings: Any, secrets: Sequence[str], *, clock: Clock | None = None) -> HttpPushBus:
        """The push bus of `settings.push` (URLs, timeouts, retries), signing with `secrets`."""
        push = settings.push
        return cls(
            push.urls,
            secrets,
            clock=clock,
            connect_timeout_s=push.connect_timeout_s,
            read_timeout_s=push.read_timeout_s,
            backoff=Backoff(attempts=push.attempts, base_s=push.backoff_s, cap_s=push.max_backoff_s),
        )

    def subscribe(self, topic: str, handler: Handler) -> None:
        raise NotImplementedError(
            f"an HTTP push for {topic!r} is received by the push_receiver function of the cloud that consumes "
            "it, not by a handler subscribed in this process"
        )

    def publish(self, topic: str, message: Message) -> None:
        url = self.urls.get(topic)
        what = f"push of {type(message).__name__} ({topic}, cycle {message.cycle_id})"
        if url is None:
            configured = ", ".join(sorted(self.urls)) or "none"
            raise PermanentBusError(
                f"{what}: no URL is configured for topic {topic!r} (configured: {configured}); set push.urls.{topic} "
                "to the push receiver of the cloud where its consumer runs"
            )
        where = _shown(url)
        failure = ""
        for attempt in range(self.backoff.attempts):
            body = envelope(topic, message)  # a new push id each attempt
            if len(body) > self.max_body_bytes:
                raise PermanentBusError(f"{what}: {len(body):,} bytes exceed the limit of {self.max_body_bytes:,}")
            signed = sign(self._secrets, "POST", self._paths[topic], body, self.clock.now())
            headers = {"Content-Type": JSON_TYPE, **signed}
            wait_s = self.backoff.delay(attempt, self.rng)
            try:
                response = self.client.post(url, content=body, headers=headers)
            except httpx.TimeoutException as exc:
                failure = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                failure = f"could not connect ({type(exc).__name__})"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    with self._lock:
                        self.sent += 1
                    return
                reason = _reason(response)
                if status != 429 and 400 <= status < 500:
                    raise PermanentBusError(f"{what} to {where}: refused with HTTP {status}: {reason}")
                failure = f"HTTP {status}: {reason}"
                wait_s = max(wait_s, min(_retry_after(response), self.backoff.cap_s))
            if attempt + 1 < self.backoff.attempts:
                logger.warning(
                    "%s to %s: attempt %d of %d failed (%s); retrying in %.2f s",
                    what,
                    where,
                    attempt + 1,
                    self.backoff.attempts,
                    failure,
                    wait_s,
                )
                with self._lock:
                    self.retried += 1
                self.sleep(wait_s)
        raise TransientBusError(f"{what} to {where}: gave up after {self.backoff.attempts} attempts; last: {failure}")

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __repr__(self) -> str:
        return f"HttpPushBus(topics={sorted(self.urls)}, {len(self._secrets)} secrets)"


class DeploymentBus(Bus):
    """What a function hands its outputs to: the topics in `pushed` go over HTTP (their consumer runs on
    another cloud), every other one to the cloud's own bus (SQS, Pub/Sub). Each bus is built on first
    use, so a deployment on one cloud never builds (or needs a secret for) the push."""

    def __init__(self, native: Callable[[], Bus], push: Callable[[], Bus], pushed: Collection[str]) -> None:
        self._make = {"native": native, "push": push}
        self._buses: dict[str, Bus] = {}
        self.pushed = frozenset(pushed)
        self._lock = threading.Lock()

    def bus_for(self, topic: str) -> Bus:
        which = "push" if topic in self.pushed else "native"
        bus = self._buses.get(which)
        if bus is None:
            with self._lock:
                bus = self._buses.get(which)
                if bus is None:
                    bus = self._buses[which] = self._make[which]()
        return bus

    def subscribe(self, topic: str, handler: Handler) -> None:
        self.bus_for(topic).subscribe(topic, handler)

    def publish(self, topic: str, message: Message) -> None:
        self.bus_for(topic).publish(topic, message)


def _signed_path(url: str) -> str:
    """The path the receiver will see and verify: the URL's path as sent, without the query."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"push URL {_shown(url)!r} is not an http(s) URL")
    return parsed.raw_path.split(b"?", 1)[0].decode("ascii") or "/"


def _shown(url: str) -> str:
    """The URL as it may appear in a log: without a query string or user info."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(query=None, fragment=None, username=None, password=None))


def _reason(response: httpx.Response) -> str:
    """What the receiver said was wrong: its JSON error and detail, or the start of its text."""
    try:
        data = response.json()
        if isinstance(data, dict) and "error" in data:
            text = f"{data['error']}: {data.get('detail', '')}"
        else:
            text = response.text
    except ValueError:
        text = response.text
    return " ".join(text.split())[:_REASON_CHARS] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 0.0
