"""Builders shared by the functional tests: settings, synthetic market data, apps on real stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.ports.clock import SimulatedClock
from coinswarm.wiring.bootstrap import App, build_app

SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")
START = 1_700_000_000 - 1_700_000_000 % 60


def settings(**changes: Any) -> Settings:
    """Defaults, with a lower threshold so that a short synthetic session trades."""
    data = Settings().model_dump()
    data["symbols"] = list(SYMBOLS)
    data["committee"]["threshold"] = 0.45
    data["market"]["warmup_candles"] = 50
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    return Settings.model_validate(data)


def series(n: int = 400, symbols: tuple[str, ...] = SYMBOLS, seed: int = 8) -> dict[str, list[Candle]]:
    return {
        s: synthetic_candles(s, n, seed=seed + i, start_ts=START, timeframe_s=60, start_price=100.0 * (i + 1))
        for i, s in enumerate(symbols)
    }


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


def closes(data: dict[str, list[Candle]]) -> list[int]:
    return sorted({c.close_ts for candles in data.values() for c in candles})
