"""Watching the stages from outside: what ingest and placement hand on becomes metrics and notifications.

`observed(builders, settings)` wraps the App's "ingest" and "placement" builders so that each built
stage's `handle` is followed by an observer (the stages themselves know nothing of it):

* ingest (a CycleTick in): `Cycles` (1 a cycle, shared among fused wiring's per-symbol ticks), `DataLag`
  (seconds from the newest candle's close to now);
* placement (a DecisionReady in, a PlacementDone out): `Orders`, `Fills`, `Refusals`, `CycleLatency`
  (now minus the cycle's tick), a notification per fill (an exit with its reason and P&L, from the
  position's average cost in the ledger before the fill) and per refusal (rate-limited by its key);
* the first cycle of a UTC day: the daily summary of the day before (equity, realized P&L, fills, fees);
* live mode, after placement: the venue's circuit breaker opening (and closing after this container saw
  it open), from the state the live broker keeps (`venue:<name>:breaker`);
* a stage that raises: `Errors` 1, and the error goes on up unchanged.

An observer never raises and its time is bounded (the notifier's budget); its failures are logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from coinswarm.notify.events import (
    Event,
    breaker_event,
    daily_summary_event,
    fill_event,
    protection_event,
    refusal_event,
)
from coinswarm.notify.metrics import MetricsLog

logger = logging.getLogger(__name__)

Builder = Callable[[Any], Any]
DAY = 86_400


def _tick_ts(cycle_id: str) -> int | None:
    head, _, tail = cycle_id.rpartition("-")
    return int(tail) if head == "cycle" and tail.isdigit() else None


class StageObserver:
    def __init__(self, app: Any, metrics: MetricsLog) -> None:
        self.app = app
        self.metrics = metrics
        self._notifier: Any = None
        self._breaker_open: dict[str, bool] = {}

    def notifier(self) -> Any:
        if self._notifier is None:
            from coinswarm.notify.notifier import notifier_from

            self._notifier = notifier_from(self.app.settings, self.app.coordination, self.app.clock)
        return self._notifier

    def after_ingest(self, tick: Any, outputs: list[tuple[str, Any]]) -> None:
        now = self.app.clock.now()
        tf = self.app.settings.timeframe_s
        closes = [m.candles[-1].ts + tf for _, m in outputs if getattr(m, "candles", ())]
        # fused wiring ticks each symbol apart: each tick is its share of the cycle, so a cycle sums to 1
        symbols = getattr(tick, "symbols", ()) or self.app.settings.symbols
        values: dict[str, float] = {"Cycles": len(symbols) / len(self.app.settings.symbols)}
        if closes:
            values["DataLag"] = max(0, now - max(closes))
        self.metrics.emit(**values)
        ts = getattr(tick, "ts", None)
        if isinstance(ts, int) and self.app.settings.notify.enabled and ts // DAY != (ts - tf) // DAY:
            self.notifier().notify(self.daily_summary(ts - ts % DAY - DAY, ts))

    def daily_summary(self, day_start: int, now: int) -> Event:
        from coinswarm.http.status_document import daily, status_document

        app = self.app
        day = datetime.fromtimestamp(day_start, UTC).strftime("%Y-%m-%d")
        rows = {r["day"]: r for r in daily(app.history.read(app.settings.ledger_stream), days=2)}
        row = rows.get(day, {"realized_pnl": 0.0, "fills": 0, "fees": 0.0})
        equity = status_document(app.settings, app.state, app.history, now=now, decisions=1)["equity"]
        return daily_summary_event(
            day, equity=equity, pnl=row["realized_pnl"], trades=row["fills"], fees=row["fees"], ts=now
        )

    def after_placement(self, msg: Any, outputs: list[tuple[str, Any]]) -> None:
        done = [m for _, m in outputs if hasattr(m, "fills") and hasattr(m, "rejections")]
        fills = [f for m in done for f in m.fills]
        rejections = [r for m in done for r in m.rejections]
        values: dict[str, float] = {
            "Orders": sum(len(m.orders) for m in done),
            "Fills": len(fills),
            "Refusals": len(rejections),
        }
        tick_ts = _tick_ts(msg.cycle_id)
        if tick_ts is not None:
            values["CycleLatency"] = max(0, self.app.clock.now() - tick_ts)
        events = self.events(fills, rejections) + self.breaker_events()
        if events:
            failures = sum(1 for d in self.notifier().notify_all(events) if not d.sent and d.detail != "sent already")
            if failures:
                values["NotifyFailures"] = failures
        self.metrics.emit(**values)

    def breaker_events(self) -> list[Event]:
        settings = self.app.settings
        if settings.mode != "live" or not settings.notify.enabled:
            return []
        out: list[Event] = []
        for venue in settings.venues[:1]:  # orders go to the first venue
            found = self.app.state.get(f"venue:{venue.name}:breaker")
            if found is None:
                continue
            doc = found.value
            opened = doc.get("mode") == "open"
            if opened or self._breaker_open.get(venue.name):
                out.append(
                    breaker_event(
                        venue.name, opened=opened, since_ts=int(doc.get("ts", 0)), describe=doc.get("describe", "")
                    )
                )
            self._breaker_open[venue.name] = opened
        return out

    def events(self, fills: list[Any], rejections: list[Any]) -> list[Event]:
        notify = self.app.settings.notify
        if not notify.enabled or not (fills or rejections):
            return []
        before = self.app.ledger.portfolio() if any(f.side.value == "sell" for f in fills) else None
        out: list[Event] = []
        for fill in fills:
            pnl = None
            held = before.holdings.get(fill.symbol) if before is not None else None
            if fill.side.value == "sell" and held is not None and held.quantity > 0:
                pnl = fill.quantity * (fill.price - held.avg_cost) - fill.fee
            out.append(fill_event(fill, pnl=pnl))
        out.extend(refusal_event(r, every_s=notify.refusal_every_s) for r in rejections)
        if rejections:  # an entry a protection paused is refused: the pauses in force, as placement stored them
            out.extend(self.protection_events())
        return out

    def protection_events(self) -> list[Event]:
        try:
            from coinswarm.stages.protection_watch import stored_pauses
        except ImportError:  # pragma: no cover - a build without the protections
            return []
        now = self.app.clock.now()
        return [
            protection_event(p.protection, symbol=p.scope, until_ts=p.until_ts, reason=p.reason, ts=now)
            for p in stored_pauses(self.app.state, self.app.settings.account)
            if p.until_ts > now
        ]


def _watch(stage: Any, after: Callable[[Any, list[tuple[str, Any]]], None], metrics: MetricsLog) -> Any:
    handle = stage.handle

    def watched(msg: Any) -> list[tuple[str, Any]]:
        try:
            outputs: list[tuple[str, Any]] = handle(msg)
        except Exception:
            metrics.emit(Errors=1)
            raise
        try:
            after(msg, outputs)
        except Exception as exc:
            logger.warning(
                "observer: %s after %s failed (the stage's work stands)", type(exc).__name__, type(msg).__name__
            )
        return outputs

    stage.handle = watched
    return stage


def observed(builders: Mapping[str, Builder], *, metrics_out: Any = None, metrics: bool = True) -> dict[str, Builder]:
    """`builders` with ingest and placement watched (see the module doc). `metrics`: write the metric lines
    (a cloud function's stdout, or `metrics_out`); a local run has no use for them in its terminal."""
    log = MetricsLog(lambda: int(time.time() * 1000), metrics_out, enabled=metrics)
    made = dict(builders)
    observers: dict[int, StageObserver] = {}

    def observer(app: Any) -> StageObserver:
        return observers.setdefault(id(app), StageObserver(app, log))

    def ingest(app: Any) -> Any:
        return _watch(builders["ingest"](app), observer(app).after_ingest, log)

    def placement(app: Any) -> Any:
        return _watch(builders["placement"](app), observer(app).after_placement, log)

    made["ingest"] = ingest
    made["placement"] = placement
    return made
