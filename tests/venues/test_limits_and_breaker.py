"""The token bucket's arithmetic, retries and the circuit breaker, on a fake clock (nothing sleeps)."""

from __future__ import annotations

from collections import Counter

import pytest
from venue_helpers import FakeClock

from coinswarm.errors import (
    CircuitOpenError,
    InvalidOrderError,
    RateLimitedError,
    TemporaryVenueError,
)
from coinswarm.venues.breaker import BreakerMode, CircuitBreaker
from coinswarm.venues.ratelimit import BINANCE_WEIGHT, COINBASE_PRIVATE, Limit, TokenBucket
from coinswarm.venues.retry import RetryPolicy, with_retry


def bucket(clock: FakeClock, **kw: float) -> TokenBucket:
    return TokenBucket("test", rate_per_s=kw.get("rate", 2.0), capacity=kw.get("capacity", 4.0),
                       clock=clock.time, sleep=clock.sleep, max_wait_s=kw.get("max_wait", 30.0))  # fmt: skip


def test_a_full_bucket_admits_its_capacity_at_once_then_one_token_per_refill_interval(clock: FakeClock) -> None:
    b = bucket(clock)
    assert [b.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, 0.0]
    assert b.acquire() == pytest.approx(0.5)  # 1 token at 2 per second
    assert b.acquire(2) == pytest.approx(1.0)
    clock.now += 10  # idle: refills, but never beyond capacity
    assert b.state().tokens == pytest.approx(4.0)


def test_reservations_queue_callers_in_order(clock: FakeClock) -> None:
    b = bucket(clock, capacity=1.0, rate=1.0)
    assert b.reserve() == 0.0
    assert b.reserve() == pytest.approx(1.0)
    assert b.reserve() == pytest.approx(2.0)  # booked behind the previous one, before anyone slept


def test_within_sets_capacity_and_rate_so_a_window_admits_share_of_the_limit() -> None:
    b = TokenBucket.within(Limit("x", 1000, 60.0, "doc"), share=0.8, burst=0.25)
    assert b.capacity == pytest.approx(200.0)
    assert b.capacity + b.rate * 60.0 == pytest.approx(800.0)
    coinbase = TokenBucket.within(COINBASE_PRIVATE)
    assert coinbase.capacity + coinbase.rate * 1.0 == pytest.approx(24.0)  # 80% of 30 requests per second


def test_a_burst_never_fills_a_binance_minute_so_no_429_and_no_418(clock: FakeClock) -> None:
    """Binance counts weight per clock minute; hammering the bucket for 10 minutes never reaches 6000."""
    b = TokenBucket.within(BINANCE_WEIGHT, clock=clock.time, sleep=clock.sleep)
    per_minute: Counter[int] = Counter()
    while clock.now < 1_717_200_600.0:
        b.acquire(2)  # klines weigh 2
        per_minute[int(clock.now // 60)] += 2
    assert max(per_minute.values()) <= 0.8 * 6000 < 6000
    steady = sorted(per_minute.values())[len(per_minute) // 2]
    assert steady == pytest.approx(b.rate * 60, abs=2)  # and it does not starve: the refill rate, sustained


def test_retry_after_holds_every_caller_then_refills_from_empty(clock: FakeClock) -> None:
    b = bucket(clock)
    b.acquire()
    b.hold(7.0)
    assert b.state().held_for_s == pytest.approx(7.0)
    assert b.acquire() == pytest.approx(7.0 + 0.5)  # nothing before Retry-After, and no burst after it
    assert clock.sleeps[-1] == pytest.approx(7.5)


def test_a_wait_longer_than_allowed_is_an_error_not_a_long_sleep(clock: FakeClock) -> None:
    b = bucket(clock, max_wait=5.0)
    b.hold(120.0)  # a 418 ban
    with pytest.raises(RateLimitedError) as caught:
        b.acquire()
    assert caught.value.retry_after == pytest.approx(120.0 + 0.5)
    assert clock.sleeps == []


def test_reported_usage_lowers_the_budget_and_a_spent_window_holds_to_its_end(clock: FakeClock) -> None:
    b = TokenBucket.within(BINANCE_WEIGHT, clock=clock.time, sleep=clock.sleep)
    b.observe_usage(4700, BINANCE_WEIGHT, window_left_s=30)  # others spent most of this minute
    assert b.state().tokens == pytest.approx(4800 - 4700)
    b.observe_usage(4900, BINANCE_WEIGHT, window_left_s=12)
    assert b.acquire() == pytest.approx(12.0 + 1 / b.rate)


def test_only_temporary_errors_are_retried_with_jittered_backoff(clock: FakeClock) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TemporaryVenueError("x", "timed out")
        return "ok"

    policy = RetryPolicy(attempts=4, base_s=1.0, cap_s=3.0)
    assert with_retry(flaky, what="t", policy=policy, sleep=clock.sleep, rng=lambda: 0.5) == "ok"
    assert clock.sleeps == [0.5, 1.0]  # half of 1, 2 (full jitter at rng 0.5)
    assert policy.delay(10, rng=lambda: 0.999) < 3.0

    def refused() -> str:
        calls.append(1)
        raise InvalidOrderError("x", "bad size")

    calls.clear()
    with pytest.raises(InvalidOrderError):
        with_retry(refused, what="t", policy=policy, sleep=clock.sleep)
    assert len(calls) == 1


def test_a_rate_limit_waits_at_least_retry_after_and_a_long_one_goes_to_the_caller(clock: FakeClock) -> None:
    answers = [RateLimitedError("x", "429", retry_after=4.0), "ok"]

    def call() -> str:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    assert with_retry(call, what="t", sleep=clock.sleep, rng=lambda: 0.0) == "ok"
    assert clock.sleeps == [4.0]
    with pytest.raises(RateLimitedError):
        with_retry(
            lambda: (_ for _ in ()).throw(RateLimitedError("x", "418", retry_after=600.0)), what="t", sleep=clock.sleep
        )


def test_the_breaker_opens_refuses_probes_once_and_closes(clock: FakeClock) -> None:
    br = CircuitBreaker("coinbase", threshold=3, cooldown_s=60, clock=clock.time)
    for _ in range(2):
        br.record_failure("HTTP 503")
    br.allow_order()  # two failures: still closed
    br.record_failure("HTTP 503")
    assert br.state().mode is BreakerMode.OPEN
    with pytest.raises(CircuitOpenError) as caught:
        br.allow_order()
    assert caught.value.retry_after == pytest.approx(60)
    assert "OPEN after 3 failures" in br.state().describe()
    br.record_success()  # a read answered meanwhile: the cooldown still runs its course
    assert br.state().mode is BreakerMode.OPEN
    with pytest.raises(CircuitOpenError):
        br.allow_order()
    clock.now += 61
    br.allow_order()  # the probe
    assert br.state().mode is BreakerMode.HALF_OPEN
    with pytest.raises(CircuitOpenError):
        br.allow_order()  # one probe at a time
    br.record_failure("HTTP 503 again")
    assert br.state().mode is BreakerMode.OPEN  # the probe failed: open for another cooldown
    clock.now += 61
    br.allow_order()
    br.record_success()
    assert br.state().mode is BreakerMode.CLOSED and br.state().consecutive_failures == 0
