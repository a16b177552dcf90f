"""Fixtures for the store contract: one `store` per adapter, all on one fake clock.

A new adapter (DynamoDB, Cosmos, Firestore, ...) joins the contract by adding a factory to
`ADAPTERS`: it takes the test's tmp_path and the fake clock (a `() -> float` of epoch seconds,
used for document TTLs) and returns a fresh, empty store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.sqlite_store import SqliteStore


class FakeClock:
    """A `now()` the test moves by hand, so TTL tests never sleep."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


ADAPTERS: dict[str, Callable[[Path, FakeClock], Any]] = {
    "sqlite": lambda tmp_path, clock: SqliteStore(tmp_path / "state" / "coinswarm.db", now=clock),
    "memory": lambda tmp_path, clock: MemoryStore(now=clock),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=list(ADAPTERS))
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Any]:
    """A fresh store implementing StateStore, HistoryStore and CoordinationStore."""
    adapter = ADAPTERS[request.param](tmp_path, clock)
    yield adapter
    close = getattr(adapter, "close", None)
    if close is not None:
        close()
