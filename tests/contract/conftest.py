"""Fixtures for the store contract: one `store` per adapter, all on one fake clock.

A new adapter (DynamoDB, Cosmos, Firestore, ...) joins the contract with one module in
`tests/contract/stores/` defining `NAME`, `PORTS` (a subset of {"state", "history", "coordination"})
and `make_store(request, tmp_path, clock)`, which returns a fresh, empty store. Each contract test
names the port it checks in its `store` annotation, and runs against every adapter serving that port.
`request` lets it ask for a server fixture (`request.getfixturevalue("moto_server")`); `clock` is a
`() -> float` of epoch seconds the test moves by hand, for document TTLs. A test of a capability only
some adapters have names them: `@pytest.mark.adapters("sqlite", "memory")`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.sqlite_store import SqliteStore

sys.path.insert(0, str(Path(__file__).parent))  # so `stores.<adapter>` modules import


class FakeClock:
    """A `now()` the test moves by hand, so TTL tests never sleep."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


Factory = Callable[[pytest.FixtureRequest, Path, FakeClock], Any]

ALL_PORTS = frozenset({"state", "history", "coordination"})
PORT_OF_ANNOTATION = {"StateStore": "state", "HistoryStore": "history", "CoordinationStore": "coordination"}

ADAPTERS: dict[str, Factory] = {
    "sqlite": lambda request, tmp_path, clock: SqliteStore(tmp_path / "state" / "coinswarm.db", now=clock),
    "memory": lambda request, tmp_path, clock: MemoryStore(now=clock),
}
SERVES: dict[str, frozenset[str]] = {"sqlite": ALL_PORTS, "memory": ALL_PORTS}
for _info in pkgutil.iter_modules([str(Path(__file__).parent / "stores")]):
    _module = importlib.import_module(f"stores.{_info.name}")
    ADAPTERS[_module.NAME] = _module.make_store
    SERVES[_module.NAME] = frozenset(_module.PORTS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each contract test against every adapter that serves the port its `store` is annotated with."""
    if "store" not in metafunc.fixturenames:
        return
    annotation = metafunc.function.__annotations__.get("store")
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    port = PORT_OF_ANNOTATION.get(name)
    adapters = [a for a, ports in SERVES.items() if port is None or port in ports]
    only = metafunc.definition.get_closest_marker("adapters")
    if only is not None:
        adapters = [a for a in adapters if a in only.args]
    metafunc.parametrize("store", adapters, indirect=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Any]:
    """A fresh store implementing StateStore, HistoryStore and CoordinationStore."""
    adapter = ADAPTERS[request.param](request, tmp_path, clock)
    yield adapter
    close = getattr(adapter, "close", None)
    if close is not None:
        close()
