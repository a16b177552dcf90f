"""The manual trade endpoint's handler in a Google Cloud container: built once per runtime, its
signing secrets read once from Secret Manager (and redacted from every log line)."""

from __future__ import annotations

import threading
from typing import Any

from functions.gcp_runtime import Runtime, runtime
from functions.gcp_schedule import run_tick
from functions.gcp_secrets import manual_trade_secrets

_lock = threading.Lock()
_manual: tuple[Runtime, Any] | None = None  # the runtime it was built for, and the handler


def manual_trade_handler() -> Any:
    """The container's ManualTradeHandler: signed requests (HMAC, the secrets fetched once), orders
    placed through the placement stage, `run_cycle` as Cloud Scheduler's tick."""
    global _manual
    rt = runtime()
    built = _manual
    if built is None or built[0] is not rt:
        with _lock:
            built = _manual
            if built is None or built[0] is not rt:
                from coinswarm.http.manual_trade import ManualTradeHandler, stored_close
                from coinswarm.http.owner_actions import owner_controls
                from coinswarm.http.replay_cache import manual_trade_authenticator
                from coinswarm.http.telegram_remote import NotifyingControls

                secrets = manual_trade_secrets(rt.settings)
                rt.redact(*secrets)
                app = rt.app
                handler = ManualTradeHandler(
                    place=lambda intent: app.stages.placement.place(intent, now=app.clock.now()),
                    run_cycle=run_tick,
                    clock=app.clock,
                    auth=manual_trade_authenticator(secrets, app.clock, app.coordination),
                    price_of=stored_close(app.state, app.settings.timeframe_s),
                    controls=NotifyingControls(owner_controls(app), app),  # the owner's channels hear of it
                )
                built = _manual = (rt, handler)
    return built[1]
