"""Fixtures of the venue tests: a fake clock shared by the clients and the fake exchange (so no test
sleeps: the clients' waits advance it), the fake exchange on loopback, obviously fake keys, clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from venue_helpers import BN_API_KEY, BN_SECRET, CB_KEY_NAME, READ_TIMEOUT_S, FakeClock

from coinswarm.venues.auth import BinanceKey, CoinbaseKey
from coinswarm.venues.binance import BinanceClient
from coinswarm.venues.breaker import CircuitBreaker
from coinswarm.venues.coinbase import CoinbaseClient
from coinswarm.venues.fake import FakeExchange
from coinswarm.venues.ratelimit import BINANCE_ORDERS, BINANCE_WEIGHT, COINBASE_PRIVATE, COINBASE_PUBLIC, TokenBucket
from coinswarm.venues.retry import RetryPolicy


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ec_private_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def coinbase_key(ec_private_pem: str, clock: FakeClock) -> CoinbaseKey:
    return CoinbaseKey(CB_KEY_NAME, ec_private_pem, clock=clock.time)


@pytest.fixture
def binance_key() -> BinanceKey:
    return BinanceKey(BN_API_KEY, BN_SECRET)


@pytest.fixture
def fake(clock: FakeClock, coinbase_key: CoinbaseKey) -> Iterator[FakeExchange]:
    with FakeExchange(clock=clock.time) as exchange:
        exchange.add_coinbase_key(CB_KEY_NAME, coinbase_key.public_key())
        exchange.add_binance_key(BN_API_KEY, BN_SECRET)
        exchange.engine.set_price("BTC-USD", 60_000.0)
        exchange.engine.set_price("BTCUSDT", 60_000.0)
        yield exchange


@pytest.fixture
def make_coinbase(
    fake: FakeExchange, clock: FakeClock, coinbase_key: CoinbaseKey
) -> Iterator[Callable[..., CoinbaseClient]]:
    made: list[CoinbaseClient] = []

    def build(key: CoinbaseKey | None = coinbase_key, **kw: object) -> CoinbaseClient:
        options: dict[str, object] = {
            "base_url": fake.url,
            "read_timeout_s": READ_TIMEOUT_S,
            "retry": RetryPolicy(attempts=4, base_s=0.1, cap_s=1.0),
            "breaker": CircuitBreaker("coinbase", threshold=5, cooldown_s=30, clock=clock.time),
            "private_bucket": TokenBucket.within(COINBASE_PRIVATE, clock=clock.time, sleep=clock.sleep),
            "public_bucket": TokenBucket.within(COINBASE_PUBLIC, clock=clock.time, sleep=clock.sleep),
            "sleep": clock.sleep,
            "clock": clock.time,
            "rng": lambda: 0.5,
        }
        options.update(kw)
        client = CoinbaseClient(key, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield build
    for c in made:
        c.close()


@pytest.fixture
def make_binance(
    fake: FakeExchange, clock: FakeClock, binance_key: BinanceKey
) -> Iterator[Callable[..., BinanceClient]]:
    made: list[BinanceClient] = []

    def build(key: BinanceKey | None = binance_key, **kw: object) -> BinanceClient:
        options: dict[str, object] = {
            "base_url": fake.url,
            "read_timeout_s": READ_TIMEOUT_S,
            "retry": RetryPolicy(attempts=4, base_s=0.1, cap_s=1.0),
            "breaker": CircuitBreaker("binance", threshold=5, cooldown_s=30, clock=clock.time),
            "weight_bucket": TokenBucket.within(BINANCE_WEIGHT, clock=clock.time, sleep=clock.sleep),
            "order_bucket": TokenBucket.within(BINANCE_ORDERS, clock=clock.time, sleep=clock.sleep),
            "sleep": clock.sleep,
            "clock": clock.time,
            "rng": lambda: 0.5,
        }
        options.update(kw)
        client = BinanceClient(key, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield build
    for c in made:
        c.close()
