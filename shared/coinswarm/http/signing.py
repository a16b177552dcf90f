"""Request authentication for Coinswarm's HTTP endpoints: HMAC-SHA256 signatures, or a bearer token.

The signed scheme (used by the push between clouds and by the manual trade endpoint):

    X-Coinswarm-Timestamp: <unix seconds>
    X-Coinswarm-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{METHOD}.{path}.".encode() + body)>

`METHOD` is upper case, `path` is the URL path exactly as sent (no query string), `body` the raw bytes.
A request is accepted when its timestamp is within `window_s` (default 300 s) of the server's clock
either way, the signature matches one of the configured secrets (compared in constant time; with
rotation, sign with the first secret and accept any), and the signature has not been seen before
within the window (a replay cache, `SeenSignatures`). Header names are matched case-insensitively.

Failures raise `AuthError` whose `reason` is a short, fixed code ("missing signature", "bad signature",
"stale timestamp", ...): never a secret, a signature, or anything else taken from the request.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from coinswarm.errors import CoinswarmError
from coinswarm.ports.clock import Clock

TIMESTAMP_HEADER = "X-Coinswarm-Timestamp"
SIGNATURE_HEADER = "X-Coinswarm-Signature"
AUTHORIZATION_HEADER = "Authorization"
DEFAULT_WINDOW_S = 300
MIN_SECRET_BYTES = 16

# The reasons an AuthError carries: fixed text, safe to log and to return.
MISSING_SIGNATURE = "missing signature"
MISSING_TIMESTAMP = "missing timestamp"
MALFORMED_SIGNATURE = "malformed signature"
MALFORMED_TIMESTAMP = "malformed timestamp"
STALE_TIMESTAMP = "stale timestamp"
FUTURE_TIMESTAMP = "future timestamp"
BAD_SIGNATURE = "bad signature"
REPLAYED_REQUEST = "replayed request"
DUPLICATE_HEADER = "duplicate header"
MISSING_TOKEN = "missing token"
MALFORMED_TOKEN = "malformed authorization"
BAD_TOKEN = "bad token"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v1=([0-9a-fA-F]{64})")

Secret = str | bytes


class AuthError(CoinswarmError):
    """The request is not authentic. `reason` is one of the short codes above."""

    http_status = 401

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- the replay cache ---------------------------------------------------------------------------------


class SeenSignatures(ABC):
    """Signatures already accepted, each kept until the end of its replay window.

    A store-backed implementation is one conditional put (write unless present and unexpired, with
    the expiry as the item's TTL), so that two containers racing on the same request admit only one."""

    @abstractmethod
    def remember(self, signature: str, expires_ts: int) -> bool:
        """Record `signature` until `expires_ts` (inclusive). False if it is recorded already."""


class InMemorySeenSignatures(SeenSignatures):
    """The replay cache of one process (one warm container): enough for a single instance.

    Expired entries are dropped as new ones arrive. Past `max_entries` live entries the one expiring
    soonest is dropped, re-opening the replay window for that one request: at the default, only after
    a hundred thousand accepted requests within one window."""

    def __init__(self, clock: Clock, *, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.clock = clock
        self.max_entries = max_entries
        self._expiry: dict[str, int] = {}
        self._queue: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def remember(self, signature: str, expires_ts: int) -> bool:
        with self._lock:
            self._drop_expired(self.clock.now())
            if signature in self._expiry:
                return False
            while len(self._expiry) >= self.max_entries:
                _, oldest = heapq.heappop(self._queue)
                self._expiry.pop(oldest, None)
            self._expiry[signature] = expires_ts
            heapq.heappush(self._queue, (expires_ts, signature))
            return True

    def __len__(self) -> int:
        return len(self._expiry)

    def _drop_expired(self, now: int) -> None:
        queue = self._queue
        while queue and queue[0][0] < now:
            _, signature = heapq.heappop(queue)
            self._expiry.pop(signature, None)


# -- signing and verifying ------------------------------------------------------------------------------


def signature(secret: Secret, method: str, path: str, body: bytes, ts: int) -> str:
    """The hex HMAC-SHA256 of the request (without the `v1=` prefix)."""
    return hmac.new(_key(secret), _message(method, path, body, ts), hashlib.sha256).hexdigest()


def sign(secret: Secret | Sequence[Secret], method: str, path: str, body: bytes, ts: int) -> dict[str, str]:
    """The headers that authenticate the request. Given a list of secrets (rotation), signs with the first."""
    if not isinstance(secret, str | bytes):
        secret = _keys(secret)[0]
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: f"v1={signature(secret, method, path, body, ts)}"}


def verify(
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    *,
    secrets: Sequence[Secret],
    now: int,
    window_s: int = DEFAULT_WINDOW_S,
    seen: SeenSignatures,
) -> None:
    """Accept the request or raise AuthError. An accepted signature is remembered in `seen`."""
    _verified(headers, method, path, body, keys=_keys(secrets), now=now, window_s=window_s, seen=seen)


def rotation(raw: str) -> list[str]:
    """Secrets as configured during a rotation: comma-separated; the first signs, any verifies."""
    return [s.strip() for s in raw.split(",") if s.strip()]


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header `name`, whatever the case of its key; None when absent."""
    found = _matching(headers, name)
    return found[0] if found else None


def _verified(
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    *,
    keys: Sequence[bytes],
    now: int,
    window_s: int,
    seen: SeenSignatures,
) -> tuple[int, str]:
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    raw_signature = _one_header(headers, SIGNATURE_HEADER)
    if raw_signature is None or not raw_signature.strip():
        raise AuthError(MISSING_SIGNATURE)
    raw_ts = _one_header(headers, TIMESTAMP_HEADER)
    if raw_ts is None or not raw_ts.strip():
        raise AuthError(MISSING_TIMESTAMP)
    if not _TIMESTAMP.fullmatch(raw_ts.strip()):
        raise AuthError(MALFORMED_TIMESTAMP)
    ts = int(raw_ts.strip())
    match = _SIGNATURE.fullmatch(raw_signature.strip())
    if match is None:
        raise AuthError(MALFORMED_SIGNATURE)
    given = match.group(1).lower()
    if now - ts > window_s:
        raise AuthError(STALE_TIMESTAMP)
    if ts - now > window_s:
        raise AuthError(FUTURE_TIMESTAMP)
    message = _message(method, path, body, ts)
    matched = False
    for key in keys:  # every key, so the time taken says nothing about which one matched
        expected = hmac.new(key, message, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise AuthError(BAD_SIGNATURE)
    if not seen.remember(given, ts + window_s):
        raise AuthError(REPLAYED_REQUEST)
    return ts, given


def _message(method: str, path: str, body: bytes, ts: int) -> bytes:
    return f"{ts}.{method.upper()}.{path}.".encode("utf-8", "surrogatepass") + bytes(body)


def _key(secret: Secret) -> bytes:
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"a signing secret must be at least {MIN_SECRET_BYTES} bytes; make one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return key


def _keys(secrets: Sequence[Secret]) -> list[bytes]:
    if isinstance(secrets, str | bytes):
        raise TypeError("secrets: give a list of secrets (the first signs), not a single string")
    keys = [_key(s) for s in secrets]
    if not keys:
        raise ValueError("no signing secret is configured")
    return keys


def _matching(headers: Mapping[str, str], name: str) -> list[str]:
    wanted = name.lower()
    return [value for key, value in headers.items() if key.lower() == wanted]


def _one_header(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value; AuthError when keys differing only in case carry different values."""
    found = _matching(headers, name)
    if len(set(found)) > 1:
        raise AuthError(DUPLICATE_HEADER)
    return found[0] if found else None


# -- authenticators: what an endpoint is given ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who passed: the scheme, and an id unique to this request when the scheme has one (a hash of the
    signed timestamp and signature; a bearer token names no request, so None)."""

    scheme: str
    request_id: str | None = None


class Authenticator(Protocol):
    @property
    def challenge(self) -> str:
        """The WWW-Authenticate value of a 401."""
        ...

    def authenticate(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Authenticated:
        """The request's credentials, checked; raises AuthError."""
        ...


class HmacAuthenticator:
    """Signed requests (the scheme in the module doc), against `clock`, refusing replays."""

    challenge = "Coinswarm-HMAC-SHA256"

    def __init__(
        self,
        secrets: Sequence[Secret],
        clock: Clock,
        *,
        seen: SeenSignatures | None = None,
        window_s: int = DEFAULT_WINDOW_S,
    ) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self._keys = _keys(secrets)
        self.clock = clock
        self.seen = seen if seen is not None else InMemorySeenSignatures(clock)
        self.window_s = window_s

    def authenticate(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Authenticated:
        ts, given = _verified(
            headers, method, path, body, keys=self._keys, now=self.clock.now(), window_s=self.window_s, seen=self.seen
        )
        return Authenticated("hmac", hashlib.sha256(f"{ts}.{given}".encode()).hexdigest())

    def __repr__(self) -> str:
        return f"HmacAuthenticator({len(self._keys)} secrets, window_s={self.window_s})"


class BearerAuthenticator:
    """`Authorization: Bearer <token>`, compared in constant time with each configured token.

    Simpler to call than signing, but a captured token works until it is rotated and a request can be
    replayed: give trades a `client_id` so that a repeat is the same order."""

    challenge = 'Bearer realm="coinswarm"'

    def __init__(self, tokens: Sequence[Secret]) -> None:
        self._digests = [hashlib.sha256(k).digest() for k in _keys(tokens)]

    def authenticate(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Authenticated:
        value = _one_header(headers, AUTHORIZATION_HEADER)
        if value is None or not value.strip():
            raise AuthError(MISSING_TOKEN)
        scheme, _, token = value.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(MALFORMED_TOKEN)
        # Digests of equal length: the comparison's time says nothing about the token's length either.
        given = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(digest, given)
        if not matched:
            raise AuthError(BAD_TOKEN)
        return Authenticated("bearer")

    def __repr__(self) -> str:
        return f"BearerAuthenticator({len(self._digests)} tokens)"
