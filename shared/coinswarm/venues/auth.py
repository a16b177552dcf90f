"""Request signing for the two venues.

Coinbase (CDP API keys): every request carries `Authorization: Bearer <JWT>`, a JWT signed with the
key's EC P-256 private key (ES256) whose header names the key (`kid`) and a fresh `nonce`, and whose
claims are `sub` (the key name), `iss` "cdp", `nbf`/`exp` (valid two minutes) and `uri`: the method,
host and path of this one request (`"GET api.coinbase.com/api/v3/brokerage/orders/historical/fills"`,
no query string). https://docs.cdp.coinbase.com/coinbase-app/authentication-authorization/api-key-authentication

Binance (HMAC keys): signed endpoints carry `timestamp` (ms) and `recvWindow`, and `signature`, the
hex HMAC-SHA256 of the whole query string under the secret key; the key goes in `X-MBX-APIKEY`.
`TimeSync` keeps the offset to Binance's clock (`GET /api/v3/time`) so a drifting local clock does
not get every request refused as outside the receive window (-1021).
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security

Secrets live only inside these objects: `repr` shows the key name, never the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

JWT_LIFETIME_S = 120


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CoinbaseKey:
    """A CDP API key: its name (`organizations/{org}/apiKeys/{id}`) and its EC private key (PEM)."""

    def __init__(
        self,
        name: str,
        private_key_pem: str,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        if not name.strip():
            raise ValueError(
                "the Coinbase API key name is empty: give the key's full name (organizations/.../apiKeys/...)"
            )
        pem = private_key_pem.strip().replace("\\n", "\n")  # a PEM pasted into one line of an env var
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError(
                "the Coinbase API secret is not a PEM private key (-----BEGIN EC PRIVATE KEY----- ...); "
                "paste the key's privateKey from the downloaded JSON, newlines included"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(
                "the Coinbase API key is not an ECDSA P-256 key; Advanced Trade signs with ES256: "
                "create the key with the ECDSA signature algorithm"
            )
        self.name = name.strip()
        self._key = key
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"CoinbaseKey({self.name!r})"

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def jwt(self, method: str, host: str, path: str) -> str:
        now = int(self._clock())
        header = {"alg": "ES256", "kid": self.name, "nonce": self._nonce(), "typ": "JWT"}
        claims = {
            "sub": self.name,
            "iss": "cdp",
            "nbf": now,
            "exp": now + JWT_LIFETIME_S,
            "uri": f"{method.upper()} {host}{path}",
        }
        signing_input = f"{_segment(header)}.{_segment(claims)}".encode("ascii")
        der = self._key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input.decode('ascii')}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _segment(obj: Mapping[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def binance_signature(secret: str, total_params: str) -> str:
    """Hex HMAC-SHA256 of `total_params` (query string, then body) under `secret`."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


class BinanceKey:
    """A Binance HMAC API key and its secret."""

    def __init__(self, api_key: str, secret: str) -> None:
        if not api_key.strip() or not secret.strip():
            raise ValueError("the Binance API key and secret must both be given")
        self.api_key = api_key.strip()
        self._secret = secret.strip()

    def __repr__(self) -> str:
        return f"BinanceKey({self.api_key[:4]}...)"

    def signed_query(self, params: Mapping[str, Any], *, timestamp_ms: int, recv_window_ms: int = 5000) -> str:
        """`params` with `recvWindow`, `timestamp` and the `signature` of it all, as a query string."""
        query = urlencode([*params.items(), ("recvWindow", recv_window_ms), ("timestamp", timestamp_ms)])
        return f"{query}&signature={binance_signature(self._secret, query)}"


class TimeSync:
    """The offset between Binance's clock and ours, measured from `GET /api/v3/time` answers."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._offset_ms = 0
        self._synced = False
        self._lock = threading.Lock()

    @property
    def synced(self) -> bool:
        return self._synced

    @property
    def offset_ms(self) -> int:
        return self._offset_ms

    def measure(self, fetch_server_ms: Callable[[], int]) -> int:
        """Set the offset from one round trip (the server's time against the middle of it); return it."""
        sent = self._clock()
        server_ms = fetch_server_ms()
        received = self._clock()
        with self._lock:
            self._offset_ms = round(server_ms - (sent + received) / 2 * 1000)
            self._synced = True
            return self._offset_ms

    def now_ms(self) -> int:
        return round(self._clock() * 1000) + self._offset_ms
