"""HMAC request signing and bearer tokens: what is accepted, each reason a request is refused, rotation,
replays, and that no refusal ever carries a secret or a signature."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinswarm.http.signing import (
    BAD_SIGNATURE,
    BAD_TOKEN,
    DUPLICATE_HEADER,
    FUTURE_TIMESTAMP,
    MALFORMED_SIGNATURE,
    MALFORMED_TIMESTAMP,
    MALFORMED_TOKEN,
    MISSING_SIGNATURE,
    MISSING_TIMESTAMP,
    MISSING_TOKEN,
    REPLAYED_REQUEST,
    SIGNATURE_HEADER,
    STALE_TIMESTAMP,
    TIMESTAMP_HEADER,
    AuthError,
    BearerAuthenticator,
    HmacAuthenticator,
    InMemorySeenSignatures,
    get_header,
    sign,
    signature,
    verify,
)
from coinswarm.ports.clock import SimulatedClock

NOW = 1_700_000_000
SECRET = "current-secret-5f1d0c9a7b3e2d4c"
OLD = "previous-secret-8a6b4c2d0e9f7a5b"
BODY = b'{"action": "trade", "symbol": "BTC-USD", "side": "buy", "notional": 100.0}'


def check(headers, method="POST", path="/", body=BODY, *, secrets=(SECRET,), now=NOW, window_s=300, seen=None):
    verify(
        headers,
        method,
        path,
        body,
        secrets=secrets,
        now=now,
        window_s=window_s,
        seen=seen if seen is not None else InMemorySeenSignatures(SimulatedClock(now)),
    )


def refused(headers, **kw) -> AuthError:
    with pytest.raises(AuthError) as info:
        check(headers, **kw)
    return info.value


def assert_clean(exc: BaseException, *values: str) -> None:
    """Nothing secret in anything the exception shows."""
    shown = " ".join([str(exc), repr(exc), *map(str, exc.args), getattr(exc, "reason", "")])
    for value in (SECRET, OLD, *values):
        assert value not in shown


# -- the scheme --------------------------------------------------------------------------------------


def test_the_signature_is_the_documented_hmac() -> None:
    headers = sign(SECRET, "post", "/trade", BODY, NOW)
    message = f"{NOW}.POST./trade.".encode() + BODY
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: f"v1={expected}"}
    assert signature(SECRET, "POST", "/trade", BODY, NOW) == expected


def test_round_trip() -> None:
    check(sign(SECRET, "POST", "/", BODY, NOW))
    check(sign(SECRET, "POST", "/x", b"", NOW), path="/x", body=b"")


def test_header_names_are_matched_whatever_their_case() -> None:
    headers = sign(SECRET, "POST", "/", BODY, NOW)
    check({k.lower(): v for k, v in headers.items()})
    check({k.upper(): v for k, v in headers.items()})
    check({"x-CoinSwarm-timestamp": headers[TIMESTAMP_HEADER], "X-COINSWARM-signature": headers[SIGNATURE_HEADER]})
    assert get_header({"content-TYPE": "application/json"}, "Content-Type") == "application/json"
    assert get_header({}, "Content-Type") is None


def test_upper_case_hex_and_surrounding_spaces_are_accepted() -> None:
    headers = sign(SECRET, "POST", "/", BODY, NOW)
    check({TIMESTAMP_HEADER: f" {NOW} ", SIGNATURE_HEADER: "v1=" + headers[SIGNATURE_HEADER][3:].upper() + " "})


# -- each refusal ---------------------------------------------------------------------------------


def test_missing_headers() -> None:
    headers = sign(SECRET, "POST", "/", BODY, NOW)
    assert refused({}).reason == MISSING_SIGNATURE
    assert refused({TIMESTAMP_HEADER: str(NOW)}).reason == MISSING_SIGNATURE
    assert refused({SIGNATURE_HEADER: headers[SIGNATURE_HEADER]}).reason == MISSING_TIMESTAMP
    assert refused({**headers, SIGNATURE_HEADER: "  "}).reason == MISSING_SIGNATURE
    assert refused({**headers, TIMESTAMP_HEADER: ""}).reason == MISSING_TIMESTAMP


@pytest.mark.parametrize(
    "ts", ["abc", "-5", "1.5", "1e9", "0x10", "\u0661\u0667\u0660\u0660", "17000000000000", "1 2", "+1700000000"]
)
def test_malformed_timestamps(ts: str) -> None:
    headers = sign(SECRET, "POST", "/", BODY, NOW)
    assert refused({**headers, TIMESTAMP_HEADER: ts}).reason == MALFORMED_TIMESTAMP


@pytest.mark.parametrize(
    "value",
    ["abc", "v2=" + "0" * 64, "v1=" + "0" * 63, "v1=" + "0" * 65, "v1=" + "g" * 64, "0" * 64, "v1=,v1=", "v1 = 00"],
)
def test_malformed_signatures(value: str) -> None:
    assert refused({TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: value}).reason == MALFORMED_SIGNATURE


def test_two_values_merged_into_one_header_are_malformed() -> None:
    a = sign(SECRET, "POST", "/", BODY, NOW)[SIGNATURE_HEADER]
    assert refused({TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: f"{a},{a}"}).reason == MALFORMED_SIGNATURE
    assert refused({TIMESTAMP_HEADER: f"{NOW},{NOW}", SIGNATURE_HEADER: a}).reason == MALFORMED_TIMESTAMP


def test_keys_differing_only_in_case_with_different_values_are_refused() -> None:
    headers = sign(SECRET, "POST", "/", BODY, NOW)
    other = sign(SECRET, "POST", "/", b"{}", NOW)[SIGNATURE_HEADER]
    assert refused({**headers, SIGNATURE_HEADER.lower(): other}).reason == DUPLICATE_HEADER
    check({**headers, SIGNATURE_HEADER.lower(): headers[SIGNATURE_HEADER]})  # the same value twice is one header


def test_the_window_either_way() -> None:
    for offset in (-300, -1, 0, 1, 300):
        check(sign(SECRET, "POST", "/", BODY, NOW + offset))
    assert refused(sign(SECRET, "POST", "/", BODY, NOW - 301)).reason == STALE_TIMESTAMP
    assert refused(sign(SECRET, "POST", "/", BODY, NOW + 301)).reason == FUTURE_TIMESTAMP
    assert refused(sign(SECRET, "POST", "/", BODY, 0)).reason == STALE_TIMESTAMP
    assert refused(sign(SECRET, "POST", "/", BODY, NOW - 100), window_s=60).reason == STALE_TIMESTAMP


def test_tampering_with_any_signed_part_breaks_the_signature() -> None:
    headers = sign(SECRET, "POST", "/trade", BODY, NOW)
    check(headers, path="/trade")
    assert refused(headers, path="/trade", body=BODY + b" ").reason == BAD_SIGNATURE
    assert refused(headers, path="/trade", body=BODY.replace(b"100.0", b"900.0")).reason == BAD_SIGNATURE
    assert refused(headers, path="/trade/").reason == BAD_SIGNATURE
    assert refused(headers, path="/trade", method="PUT").reason == BAD_SIGNATURE
    assert refused({**headers, TIMESTAMP_HEADER: str(NOW + 1)}, path="/trade").reason == BAD_SIGNATURE


def test_a_wrong_secret_is_a_bad_signature() -> None:
    assert refused(sign("some-other-secret-0000", "POST", "/", BODY, NOW)).reason == BAD_SIGNATURE


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_of_the_body_is_refused(position: int, flip: int) -> None:
    headers = sign(SECRET, "POST", "/", BODY, NOW)
    tampered = bytearray(BODY)
    tampered[position % len(BODY)] ^= flip
    assert refused(headers, body=bytes(tampered)).reason == BAD_SIGNATURE


# -- replays ---------------------------------------------------------------------------------------


def test_a_request_is_accepted_once_within_the_window() -> None:
    clock = SimulatedClock(NOW)
    seen = InMemorySeenSignatures(clock)
    headers = sign(SECRET, "POST", "/", BODY, NOW)
    check(headers, seen=seen)
    for later in (0, 10, 300):
        assert refused(headers, now=NOW + later, seen=seen).reason == REPLAYED_REQUEST
    assert refused(headers, now=NOW + 301, seen=seen).reason == STALE_TIMESTAMP  # and after, it is too old
    check(sign(SECRET, "POST", "/", BODY, NOW + 1), seen=seen)  # a fresh signature of the same body is new


def test_a_refused_signature_is_not_remembered() -> None:
    seen = InMemorySeenSignatures(SimulatedClock(NOW))
    headers = sign(SECRET, "POST", "/", BODY, NOW)
    refused(headers, body=b"{}", seen=seen)  # bad signature for this body
    assert len(seen) == 0
    check(headers, seen=seen)


def test_the_cache_forgets_what_has_expired_and_stays_bounded() -> None:
    clock = SimulatedClock(NOW)
    seen = InMemorySeenSignatures(clock, max_entries=3)
    assert seen.remember("a", NOW + 10) and not seen.remember("a", NOW + 10)
    clock.set(NOW + 10)
    assert not seen.remember("a", NOW + 20)  # expires_ts is inclusive
    clock.set(NOW + 11)
    assert seen.remember("a", NOW + 30) and len(seen) == 1
    assert seen.remember("b", NOW + 40) and seen.remember("c", NOW + 50) and seen.remember("d", NOW + 60)
    assert len(seen) == 3 and seen.remember("a", NOW + 70)  # the one expiring first made room
    with pytest.raises(ValueError):
        InMemorySeenSignatures(clock, max_entries=0)


# -- rotation --------------------------------------------------------------------------------------


def test_rotation_signs_with_the_first_and_accepts_any() -> None:
    both = [SECRET, OLD]
    assert sign(both, "POST", "/", BODY, NOW) == sign(SECRET, "POST", "/", BODY, NOW)
    check(sign(OLD, "POST", "/", BODY, NOW), secrets=both)
    check(sign(SECRET, "POST", "/", BODY, NOW), secrets=both)
    assert refused(sign(OLD, "POST", "/", BODY, NOW), secrets=[SECRET]).reason == BAD_SIGNATURE


# -- configuration ------------------------------------------------------------------------------


def test_bad_configuration_is_refused_without_showing_the_secret() -> None:
    short = "tooshort"
    for secrets, kind in (([short], ValueError), ([], ValueError), (SECRET, TypeError), ([""], ValueError)):
        with pytest.raises(kind) as info:
            check(sign(SECRET, "POST", "/", BODY, NOW), secrets=secrets)
        assert_clean(info.value, short)
    with pytest.raises(ValueError) as bad_window:
        check(sign(SECRET, "POST", "/", BODY, NOW), window_s=0)
    assert_clean(bad_window.value)
    with pytest.raises(ValueError):
        sign(short, "POST", "/", BODY, NOW)
    with pytest.raises(ValueError):
        HmacAuthenticator([SECRET], SimulatedClock(NOW), window_s=-1)


def test_no_refusal_shows_a_secret_or_a_signature() -> None:
    good = sign(SECRET, "POST", "/", BODY, NOW)
    old = sign(OLD, "POST", "/", BODY, NOW)
    cases = [
        {},
        {TIMESTAMP_HEADER: str(NOW)},
        {**good, TIMESTAMP_HEADER: "x" + SECRET},
        {**good, SIGNATURE_HEADER: "v1=" + SECRET},
        {**good, SIGNATURE_HEADER: SECRET},
        sign(SECRET, "POST", "/", BODY, NOW - 999),
        sign(SECRET, "POST", "/", BODY, NOW + 999),
        old,
        {**good, SIGNATURE_HEADER.lower(): old[SIGNATURE_HEADER]},
    ]
    seen = InMemorySeenSignatures(SimulatedClock(NOW))
    check(good, seen=seen)
    cases.append(good)  # a replay
    for headers in cases:
        exc = refused(headers, seen=seen)
        assert_clean(exc, good[SIGNATURE_HEADER][3:], old[SIGNATURE_HEADER][3:])
        assert len(exc.reason) <= 30
    assert OLD not in repr(HmacAuthenticator([SECRET, OLD], SimulatedClock(NOW)))
    assert SECRET not in repr(BearerAuthenticator([SECRET]))


# -- the authenticators ----------------------------------------------------------------------------


def test_hmac_authenticator_ids_each_request_and_refuses_its_replay() -> None:
    clock = SimulatedClock(NOW)
    auth = HmacAuthenticator([SECRET, OLD], clock)
    first = sign(SECRET, "POST", "/", BODY, NOW)
    second = sign(OLD, "POST", "/", BODY, NOW + 1)
    a = auth.authenticate("POST", "/", first, BODY)
    b = auth.authenticate("POST", "/", second, BODY)
    assert a.scheme == "hmac" and a.request_id and b.request_id and a.request_id != b.request_id
    assert first[SIGNATURE_HEADER][3:] not in (a.request_id or "")
    with pytest.raises(AuthError) as info:
        auth.authenticate("POST", "/", first, BODY)
    assert info.value.reason == REPLAYED_REQUEST
    clock.set(NOW + 400)
    with pytest.raises(AuthError) as stale:
        auth.authenticate("POST", "/", first, BODY)
    assert stale.value.reason == STALE_TIMESTAMP


def test_bearer_tokens() -> None:
    auth = BearerAuthenticator([SECRET, OLD])
    assert auth.authenticate("POST", "/", {"Authorization": f"Bearer {SECRET}"}, b"").request_id is None
    assert auth.authenticate("POST", "/", {"authorization": f"bearer  {OLD} "}, b"").scheme == "bearer"
    cases = {
        MISSING_TOKEN: [{}, {"Authorization": " "}],
        MALFORMED_TOKEN: [{"Authorization": f"Basic {SECRET}"}, {"Authorization": "Bearer"}, {"Authorization": SECRET}],
        BAD_TOKEN: [{"Authorization": "Bearer " + SECRET[:-1]}, {"Authorization": "Bearer " + SECRET + "x"}],
        DUPLICATE_HEADER: [{"Authorization": f"Bearer {SECRET}", "authorization": "Bearer other"}],
    }
    for reason, headers_list in cases.items():
        for headers in headers_list:
            with pytest.raises(AuthError) as info:
                auth.authenticate("POST", "/", headers, b"")
            assert info.value.reason == reason
            assert_clean(info.value)
    with pytest.raises(ValueError):
        BearerAuthenticator(["short"])
