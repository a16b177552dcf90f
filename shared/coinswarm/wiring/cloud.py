"""The composition root of a cloud function: one App per container, built on first use from the
configuration (COINSWARM_CONFIG and COINSWARM_* variables) and reused while the container is warm.

Nothing is built at import: a cold start pays only for the modules its configuration selects.
Market data is Coinbase's public API (`market.source` may say "synthetic" for a dry run), the broker
is the paper broker unless live trading is deliberately configured, the stores are the ones
`store.*` names.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from coinswarm.config import load_settings
from coinswarm.config.settings import Settings
from coinswarm.wiring.bootstrap import App, build_app

_lock = threading.Lock()
_app: App | None = None


def container_app(
    settings: Settings | None = None, *, settings_from: Callable[[], Settings] | None = None, **overrides: Any
) -> App:
    """The container's App, made once; each of its parts (a stage, a store, ...) is built the first time
    the function uses it, so a function builds only its own stage and what that needs. `settings` /
    `overrides` (build_app's keyword arguments: market, store, clock, ...) are used on the first call
    only; tests reset with `reset_container_app`."""
    global _app
    if _app is None:
        with _lock:
            if _app is None:
                settings = settings or (settings_from or load_settings)()
                if "market" not in overrides and "market_from" not in overrides:
                    overrides["market_from"] = cloud_market  # built by the stage that reads it (ingest)
                overrides.setdefault("outbox", True)  # a cloud bus may deliver any message again
                _app = build_app(settings, lazy=True, **overrides)
    return _app


def reset_container_app() -> None:
    global _app
    with _lock:
        _app = None


def cloud_market(settings: Settings) -> Any:
    """The market data a cloud function reads: the venue's own when it trades live (orders and prices from
    one source, whatever `market.source` says) or when `market.source` is "venue"; else as configured."""
    if settings.market.source == "venue" or settings.mode == "live":
        from coinswarm.wiring.live import venue_market

        return venue_market(settings)
    if settings.market.source == "synthetic":
        import time

        from coinswarm.marketdata.replay import ReplayMarketData
        from coinswarm.marketdata.synthetic import synthetic_candles

        tf = settings.timeframe_s
        n = settings.market.warmup_candles + 1440
        end = int(time.time() // tf) * tf
        series = {
            s: synthetic_candles(s, n, seed=settings.market.synthetic_seed + i, start_ts=end - n * tf, timeframe_s=tf)
            for i, s in enumerate(settings.symbols)
        }
        return ReplayMarketData(series, label="SYNTHETIC series, not market data")
    from coinswarm.marketdata.coinbase_public import CoinbasePublicMarketData

    return CoinbasePublicMarketData(
        settings.market.coinbase_url,
        connect_timeout_s=settings.market.connect_timeout_s,
        recent_limit=settings.market.warmup_candles,
    )
