"""Request signing: Binance's documented HMAC example, Coinbase CDP JWTs (ES256), no secret in sight."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from coinswarm.venues.auth import BinanceKey, CoinbaseKey, TimeSync, binance_signature

# The worked example of "SIGNED Endpoint Examples for POST /api/v3/order" in Binance's spot API docs:
# https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security (SIGNED request
# example (HMAC)), also https://github.com/binance/binance-spot-api-docs/blob/master/rest-api.md
# #signed-endpoint-examples-for-post-apiv3order
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
# Example 3 (mixed query string and body): totalParams is the two concatenated without "&".
DOC_MIXED = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForceGTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)


def test_the_binance_documentation_example_signature() -> None:
    assert binance_signature(DOC_SECRET, DOC_QUERY) == DOC_SIGNATURE
    assert binance_signature(DOC_SECRET, DOC_QUERY.replace("quantity=1", "quantity=2")) != DOC_SIGNATURE


def test_a_signed_query_reproduces_the_documented_request() -> None:
    key = BinanceKey(DOC_API_KEY, DOC_SECRET)
    params = {"symbol": "LTCBTC", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "0.1"}
    signed = key.signed_query(params, timestamp_ms=1499827319559, recv_window_ms=5000)
    assert signed == f"{DOC_QUERY}&signature={DOC_SIGNATURE}"
    assert DOC_SECRET not in repr(key) and DOC_SECRET not in signed


def test_time_sync_measures_the_offset_from_the_middle_of_the_round_trip() -> None:
    readings = iter([1000.1, 1000.2, 1005.0])  # sent, received, then later
    sync = TimeSync(lambda: next(readings))
    assert not sync.synced
    offset = sync.measure(lambda: 1_000_150 + 2_000)  # server 2 s ahead of the round trip's middle
    assert offset == 2_000 and sync.synced
    assert sync.now_ms() == 1_005_000 + 2_000


def _decode(part: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def test_a_coinbase_jwt_names_the_key_and_the_request_and_verifies_with_the_public_key(ec_private_pem: str) -> None:
    key = CoinbaseKey("organizations/o/apiKeys/k", ec_private_pem, clock=lambda: 1_700_000_000.0, nonce=lambda: "n1")
    token = key.jwt("post", "api.coinbase.com", "/api/v3/brokerage/orders")
    head, claims, sig = token.split(".")
    assert _decode(head) == {"alg": "ES256", "kid": "organizations/o/apiKeys/k", "nonce": "n1", "typ": "JWT"}
    assert _decode(claims) == {
        "sub": "organizations/o/apiKeys/k",
        "iss": "cdp",
        "nbf": 1_700_000_000,
        "exp": 1_700_000_120,
        "uri": "POST api.coinbase.com/api/v3/brokerage/orders",
    }
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    assert len(raw) == 64  # JOSE: r || s, not DER
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(InvalidSignature):
        other.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))


def test_a_pem_pasted_on_one_line_with_escaped_newlines_is_accepted(ec_private_pem: str) -> None:
    one_line = ec_private_pem.replace("\n", "\\n")
    assert CoinbaseKey("organizations/o/apiKeys/k", one_line).jwt("GET", "h", "/p").count(".") == 2


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("not-a-pem-fake-secret-value", "is not a PEM private key"),
        ("ed25519", "not an ECDSA P-256 key"),
    ],
)
def test_a_wrong_coinbase_secret_is_refused_clearly_without_echoing_it(secret: str, expected: str) -> None:
    if secret == "ed25519":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        secret = (
            ed25519.Ed25519PrivateKey.generate()
            .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            .decode()
        )
    with pytest.raises(ValueError, match=expected) as caught:
        CoinbaseKey("organizations/o/apiKeys/k", secret)
    assert secret.strip() not in str(caught.value)
