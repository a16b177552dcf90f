"""The HTTP exchange shared by both venue clients: budget, send, classify, retry, breaker.

One call of `Transport.send`:
1. takes its cost from each token bucket (waiting with the injected sleep, or RateLimitedError);
2. builds the request afresh (a new signature and timestamp each attempt) and sends it;
3. maps the outcome onto the error tree: connection and timeout failures and 5xx are TemporaryVenueError
   (`maybe_executed` when the request may have been carried out), 429/418 RateLimitedError after holding
   the buckets for `Retry-After`, other 4xx whatever the venue's `classify` says;
4. tells the breaker: temporary errors and refused credentials are failures, any answer is a success;
5. retries TemporaryVenueError with backoff, but a request that may have been carried out only when it
   is idempotent: an order whose outcome is unknown goes back to the client, which looks it up.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from coinswarm import __version__
from coinswarm.errors import RateLimitedError, TemporaryVenueError, VenueAuthError, VenueError, scrub
from coinswarm.venues.breaker import CircuitBreaker
from coinswarm.venues.ratelimit import TokenBucket
from coinswarm.venues.retry import DEFAULT_RETRY, RetryPolicy, with_retry

log = logging.getLogger("coinswarm.venues")

#: Seconds to wait after a 429 / 418 that carries no Retry-After (418: the shortest documented ban).
DEFAULT_RETRY_AFTER_S = 1.0
DEFAULT_BAN_S = 120.0


@dataclass(frozen=True, slots=True)
class Prepared:
    """One attempt's request: the URL path with its (already encoded, maybe signed) query, headers, body."""

    path: str
    query: str = ""
    headers: dict[str, str] | None = None
    json_body: Any = None
    form: str | None = None


Classify = Callable[[httpx.Response, str], VenueError]


class Transport:
    def __init__(
        self,
        venue: str,
        base_url: str,
        *,
        classify: Classify,
        breaker: CircuitBreaker,
        client: httpx.Client | None = None,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        observe: Callable[[httpx.Response], None] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        if connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.host = httpx.URL(self.base_url).netloc.decode("ascii")
        self.classify = classify
        self.breaker = breaker
        self.retry = retry
        self.sleep = sleep
        self.rng = rng
        self.observe = observe
        self.secrets = secrets
        self.timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._owns_client = client is None
        self._client = client or httpx.Client(
            headers={"Accept": "application/json", "User-Agent": f"coinswarm/{__version__}"}
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def send(
        self,
        method: str,
        prepare: Callable[[], Prepared],
        *,
        costs: Sequence[tuple[TokenBucket, float]] = (),
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """The successful (2xx) response, or the venue error it came to. `timeout`: this call's own, in
        place of the transport's (a probe that must answer quickly)."""
        idem = method in ("GET", "HEAD") if idempotent is None else idempotent

        def attempt() -> httpx.Response:
            for bucket, cost in costs:
                bucket.acquire(cost)
            return self._once(method, prepare(), costs, timeout or self.timeout)

        return with_retry(
            attempt,
            what=f"{self.venue} {method}",
            policy=retry or self.retry,
            sleep=self.sleep,
            rng=self.rng,
            retryable=lambda exc: idem or not exc.maybe_executed,
            honour_retry_after=not costs,
        )

    def json(self, response: httpx.Response, where: str) -> Any:
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise TemporaryVenueError(
                self.venue,
                f"answered {where} with something that is not JSON ({len(response.content)} bytes, {kind})",
                status=response.status_code,
            ) from None

    def _once(
        self, method: str, req: Prepared, costs: Sequence[tuple[TokenBucket, float]], timeout: httpx.Timeout
    ) -> httpx.Response:
        where = f"{method} {req.path}"
        url = self.base_url + req.path + (f"?{req.query}" if req.query else "")
        headers = dict(req.headers or {})
        content: bytes | None = None
        if req.json_body is not None:
            content = httpx_json(req.json_body)
            headers["Content-Type"] = "application/json"
        elif req.form is not None:
            content = req.form.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = self._client.request(method, url, content=content, headers=headers, timeout=timeout)
        except (httpx.ConnectTimeout, httpx.ConnectError) as exc:
            failure: TemporaryVenueError = TemporaryVenueError(
                self.venue, f"cannot connect to {self.host} ({type(exc).__name__}; {where})", maybe_executed=False
            )
            self.breaker.record_failure(failure.reason)
            raise failure from None
        except httpx.TimeoutException as exc:
            failure = TemporaryVenueError(
                self.venue,
                f"no answer within {timeout.read} s ({type(exc).__name__}; {where}); the outcome is unknown",
                maybe_executed=True,
            )
            self.breaker.record_failure(failure.reason)
            raise failure from None
        except httpx.HTTPError as exc:
            detail = scrub(str(exc), self.secrets)[:120]
            failure = TemporaryVenueError(
                self.venue,
                f"the connection failed during {where} ({type(exc).__name__}: {detail}); the outcome is unknown",
                maybe_executed=True,
            )
            self.breaker.record_failure(failure.reason)
            raise failure from None
        if self.observe is not None:
            self.observe(response)
        status = response.status_code
        if response.is_success:
            self.breaker.record_success()
            return response
        if status in (429, 418):
            banned = status == 418
            retry_after = _retry_after(response, DEFAULT_BAN_S if banned else DEFAULT_RETRY_AFTER_S)
            for bucket, _ in costs:
                bucket.hold(retry_after)
            what = "banned this address (HTTP 418)" if banned else "rate limited the request (HTTP 429)"
            log.warning(
                "%s %s %s; holding requests for %.1f s",
                self.venue,
                what,
                where,
                retry_after,
                extra={"venue": self.venue, "retry_after_s": retry_after},
            )
            words = scrub(_detail(response), self.secrets)
            raise RateLimitedError(
                self.venue,
                f"{what} at {where}; retry after {retry_after:g} s" + (f" ({words})" if words else ""),
                retry_after=retry_after,
                status=status,
                banned=banned,
            )
        if status >= 500:
            detail = scrub(_detail(response), self.secrets)
            failure = TemporaryVenueError(
                self.venue,
                f"answered HTTP {status} to {where} (the venue's fault; the outcome is unknown)"
                + (f": {detail}" if detail else ""),
                status=status,
                maybe_executed=True,
            )
            self.breaker.record_failure(failure.reason)
            raise failure
        error = self.classify(response, where)
        if isinstance(error, VenueAuthError | TemporaryVenueError):
            self.breaker.record_failure(error.reason)
        else:
            self.breaker.record_success()
        raise error


def httpx_json(body: Any) -> bytes:
    import json

    return json.dumps(body, separators=(",", ":")).encode()


def _retry_after(response: httpx.Response, default: float) -> float:
    raw = response.headers.get("Retry-After", "")
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value >= 0 else default


def _detail(response: httpx.Response) -> str:
    """The venue's own words about an error, shortened."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "msg", "error", "error_details"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:200]
    return " ".join(response.text.split())[:200]


detail = _detail
