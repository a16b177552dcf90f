"""Backoff at the store boundary: throttling is retried with growing, jittered delays; nothing else is."""

import pytest

from coinswarm.adapters.retry import Backoff, with_backoff
from coinswarm.errors import TransientStoreError


class Throttled(Exception):
    pass


def test_throttling_is_retried_with_exponential_delays_until_it_succeeds() -> None:
    calls, slept = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise Throttled()
        return "ok"

    result = with_backoff(
        flaky,
        throttled=lambda e: isinstance(e, Throttled),
        what="put",
        policy=Backoff(8, 0.1, 10.0),
        sleep=slept.append,
        rng=lambda: 1.0,
    )
    assert result == "ok" and len(calls) == 4
    assert slept == pytest.approx([0.1, 0.2, 0.4])


def test_delays_are_capped_and_jittered() -> None:
    policy = Backoff(attempts=10, base_s=1.0, cap_s=3.0)
    assert policy.delay(5, rng=lambda: 1.0) == 3.0
    assert policy.delay(5, rng=lambda: 0.25) == 0.75


def test_other_errors_propagate_at_once() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        with_backoff(broken, throttled=lambda e: isinstance(e, Throttled), what="put", sleep=lambda s: None)
    assert len(calls) == 1


def test_giving_up_raises_a_transient_error_naming_the_operation() -> None:
    def always() -> None:
        raise Throttled()

    with pytest.raises(TransientStoreError, match="append: still throttled after 3 attempts"):
        with_backoff(always, throttled=lambda e: True, what="append", policy=Backoff(attempts=3), sleep=lambda s: None)
