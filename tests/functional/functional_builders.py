"""Builders shared by the functional tests: settings and synthetic market data (imported by name: a module
named `conftest` is ambiguous when pytest collects several test folders in one run)."""

from __future__ import annotations

from typing import Any

from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle
from coinswarm.marketdata.synthetic import synthetic_candles

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


def closes(data: dict[str, list[Candle]]) -> list[int]:
    return sorted({c.close_ts for candles in data.values() for c in candles})
