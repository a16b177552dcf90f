"""One POST of a JSON body, retried on 429 and 5xx within a deadline, honouring the service's wait.

The wait a 429 asks for is read from, in order: Telegram's `parameters.retry_after` (seconds), Discord's
`retry_after` (seconds, a float), the `Retry-After` header (seconds). A 5xx or a connection error waits
`backoff_s`, doubling. A wait that would end past the deadline is not waited: the send gives up, and
says why. Never raises for what the service answered or the network did; `Outcome` tells. `sleep` and
`monotonic` are injected so that a test observes the waits instead of sleeping them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

MAX_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class Outcome:
    sent: bool
    attempts: int
    detail: str
    status: int | None = None
    body: bytes = b""


def retry_after_s(response: httpx.Response) -> float | None:
    """The wait a 429 (or 503) asks for, in seconds; None when it names none."""
    try:
        doc = json.loads(response.content) if response.content else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        params = doc.get("parameters")
        if isinstance(params, dict) and isinstance(params.get("retry_after"), int | float):
            return float(params["retry_after"])
        if isinstance(doc.get("retry_after"), int | float):
            return float(doc["retry_after"])
    header = response.headers.get("Retry-After")
    if header is not None:
        try:
            return max(0.0, float(header.strip()))
        except ValueError:
            return None  # an HTTP date: not worth the parsing for a notification
    return None


def post_json(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    *,
    deadline_s: float,
    accepted: Callable[[int, bytes], bool] = lambda status, _: 200 <= status < 300,
    backoff_s: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Outcome:
    end = monotonic() + deadline_s
    wait = backoff_s
    detail = "not tried: no time left"
    status: int | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        left = end - monotonic()
        if left <= 0:
            return Outcome(False, attempt - 1, f"{detail}; out of time", status)
        try:
            response = client.post(url, json=payload, timeout=httpx.Timeout(left, connect=min(left, 2.0)))
        except httpx.TimeoutException:
            return Outcome(False, attempt, "timed out (the service may still deliver it)", status)
        except httpx.HTTPError as exc:
            detail, pause = f"network error {type(exc).__name__}", wait
            wait *= 2
        else:
            status = response.status_code
            if accepted(status, response.content):
                return Outcome(True, attempt, f"HTTP {status}", status, response.content)
            if status == 429 or status >= 500:
                asked = retry_after_s(response)
                pause = asked if asked is not None else wait
                wait *= 2
                detail = f"HTTP {status}" + (f", retry after {asked:g} s" if asked is not None else "")
            else:
                return Outcome(False, attempt, f"HTTP {status}: refused, not retried", status, response.content[:300])
        if attempt == MAX_ATTEMPTS:
            return Outcome(False, attempt, f"{detail}; gave up after {attempt} attempts", status)
        if monotonic() + pause > end:
            return Outcome(False, attempt, f"{detail}; the wait would pass the deadline, gave up", status)
        sleep(pause)
    return Outcome(False, MAX_ATTEMPTS, detail, status)  # pragma: no cover - the loop returns
