"""The cycle Cloud Scheduler starts: `run_tick(at)` ingests the candles closed by `at` and publishes one
CandlesReady per symbol with new ones; `scheduled_at` reads the time the run was meant for, so that a
retry of the same run is the same cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from coinswarm.config import Settings
from coinswarm.observability.logs import cycle_context
from coinswarm.stages.messages import CycleTick
from functions.gcp_runtime import log, runtime


def scheduled_at(headers: Mapping[str, str]) -> int | None:
    """When Cloud Scheduler meant this run for (its X-CloudScheduler-ScheduleTime header, RFC 3339), so
    that a retry of the same run is the same cycle. None without the header, or when it cannot be read."""
    raw = next((v for k, v in headers.items() if k.lower() == "x-cloudscheduler-scheduletime"), None)
    if raw:
        try:
            return int(datetime.fromisoformat(raw.strip().replace("Z", "+00:00")).timestamp())
        except ValueError:
            log.warning("tick_ingest: ignored an unreadable X-CloudScheduler-ScheduleTime header")
    return None


def cycle_tick(settings: Settings, at: int) -> CycleTick:
    """The cycle for every configured symbol, as of the last candle closed at `at`."""
    tf = settings.timeframe_s
    ts = at // tf * tf
    return CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=settings.symbols)


def run_tick(at: int | None = None) -> dict[str, Any]:
    """Ingest the candles closed by `at` (now when None; never later than now) and publish one
    CandlesReady per symbol that has new ones."""
    rt = runtime()
    app = rt.app
    now = app.clock.now()
    tick = cycle_tick(rt.settings, now if at is None else min(at, now))
    with cycle_context(tick.cycle_id):
        outputs = app.stages.ingest.handle(tick)
        rt.publish(outputs)
        symbols = [getattr(message, "symbol", "") for _, message in outputs]
        log.info("tick_ingest: %s published new candles of %d symbol(s)", tick.cycle_id, len(symbols))
    return {"cycle_id": tick.cycle_id, "ts": tick.ts, "symbols": symbols}
