"""Fixtures of the functional tests: apps on real stores (the builders are in functional_builders)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from functional_builders import START

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.ports.clock import SimulatedClock
from coinswarm.wiring.bootstrap import App, build_app


@pytest.fixture
def make_app(tmp_path) -> Callable[..., tuple[App, SimulatedClock]]:
    count = 0

    def make(cfg: Settings, data: dict[str, list[Candle]], store: str = "sqlite") -> tuple[App, SimulatedClock]:
        nonlocal count
        count += 1
        clock = SimulatedClock(START)
        backend = SqliteStore(tmp_path / f"state-{count}.db") if store == "sqlite" else MemoryStore()
        app = build_app(cfg, market=ReplayMarketData(data, label="test series"), store=backend, clock=clock)
        return app, clock

    return make
