"""`coinswarm serve`: the manual trade endpoint, the status API and page, and the Telegram webhook on this
machine, over a state file, for rehearsals (the same handlers the cloud functions run):

    POST /           the manual trade endpoint (signed with COINSWARM_MANUAL_TRADE_SECRET)
    POST /telegram   Telegram's updates (remote.telegram_webhook_secret; a tunnel makes it reachable)
    GET  /           the status page        GET /status   its JSON (remote.status_token)

A slow Telegram command is acknowledged and answered by a thread here. The state file is locked as
`coinswarm run` locks it: serve and run never write one file at once."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path
from typing import Any

from coinswarm.cli.common import add_config_arg, err, fail, settings_from
from coinswarm.cli.remote import SECRET_ENV
from coinswarm.cli.sources import resolve

DEFAULT_PORT = 8080


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the manual trade endpoint, status page and Telegram webhook locally",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_config_arg(p)
    p.add_argument("--state", metavar="PATH", help="the state file (default store.path)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--replay", metavar="FILE", help="market data for /cycle from this candle file")
    src.add_argument("--synthetic", action="store_true", help="market data for /cycle from the synthetic series")
    p.set_defaults(func=main)


class Served:
    """The App over a state file and the handlers `coinswarm serve` routes to."""

    def __init__(self, app: Any, runner: Any, manual_secrets: list[str]) -> None:
        from coinswarm.http.telegram_remote import remote_router

        self.app = app
        self.runner = runner
        token = app.settings.remote.status_token
        self.remote = remote_router(
            app, run_cycle=self.run_cycle, defer=self.defer, status_tokens=[token.get_secret_value()] if token else []
        )
        self.manual = self._manual(manual_secrets) if manual_secrets else None
        self.threads: list[threading.Thread] = []
        self.lock: threading.Lock | None = None  # the server's, taken by a deferred job too

    def _manual(self, secrets: list[str]) -> Any:
        from coinswarm.http.manual_trade import ManualTradeHandler, stored_close
        from coinswarm.http.signing import HmacAuthenticator
        from coinswarm.ports.clock import SystemClock

        app = self.app
        extra: dict[str, Any] = {}
        try:
            from coinswarm.http.owner_actions import owner_controls
            from coinswarm.http.telegram_remote import NotifyingControls

            extra["controls"] = NotifyingControls(owner_controls(app), app, who="coinswarm serve")
        except ImportError:  # pragma: no cover - before the owner's controls exist
            pass
        return ManualTradeHandler(
            lambda intent: app.stages.placement.place(intent, now=app.clock.now()),
            self.run_cycle,
            app.clock,
            HmacAuthenticator(secrets, SystemClock()),  # a signature is as fresh as the wall clock says, replay or not
            price_of=stored_close(app.state, app.settings.timeframe_s),
            **extra,
        )

    def run_cycle(self) -> dict[str, Any]:
        tf = self.app.settings.timeframe_s
        ts = self.app.clock.now() // tf * tf
        self.runner.run_cycle(ts)
        return {"cycle_id": f"cycle-{ts}", "published": len(self.app.settings.symbols)}

    def defer(self, job: dict[str, Any]) -> None:
        def run() -> None:
            hook = self.remote.telegram()
            if hook is None:
                return
            if self.lock is None:
                hook.run_deferred(job)
                return
            with self.lock:
                hook.run_deferred(job)

        thread = threading.Thread(target=run, name=f"telegram-{job.get('update_id')}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def route(self, request: Any) -> Any:
        from coinswarm.http.json_http import error
        from coinswarm.http.telegram_remote import TELEGRAM_PATH

        if request.method == "POST" and request.path != TELEGRAM_PATH:
            if self.manual is None:
                return error(503, "not_configured", f"set {SECRET_ENV} before `coinswarm serve` to take trades")
            return self.manual.handle(request)
        return self.remote.handle(request)


def main(args: argparse.Namespace) -> int:
    from coinswarm.adapters.sqlite_store import SqliteStore
    from coinswarm.cli.state_lock import StateFileLock
    from coinswarm.http.signing import rotation
    from coinswarm.http.status_server import LocalServer
    from coinswarm.wiring.bootstrap import build_app
    from coinswarm.wiring.runner import CycleRunner

    settings = settings_from(args)
    source = resolve(settings, replay=args.replay, synthetic=args.synthetic, cycles=1, seed=None)
    path = Path(args.state or settings.store.path)
    lock = StateFileLock(path)
    lock.acquire()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(path)
        app = build_app(source.settings, market=source.market, store=store, clock=source.clock, observe=True)
        handlers = None
        if app.settings.wiring == "mesh":  # each stage through its function's local handler, as `coinswarm run`
            from functions.local import local_handlers

            handlers = local_handlers(app)
        runner = CycleRunner(
            app, wiring=app.settings.wiring, handlers=handlers, owner=f"serve-{os.getpid()}", lease_s=None
        )
        served = Served(app, runner, rotation(os.environ.get(SECRET_ENV, "")))
        try:
            server = LocalServer(served.route, host=args.host, port=args.port)
        except OSError as exc:
            fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror}; pick another --port")
        served.lock = server.lock
        say(served, server.url, path)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            err("stopped")
        finally:
            server.stop()
    finally:
        lock.release()
    return 0


def say(served: Served, url: str, path: Path) -> None:
    remote = served.app.settings.remote
    print(f"coinswarm serve · state {path} · {url}")
    print(f"  status page   {url}/#token=<remote.status_token>" + ("" if remote.status_token else "  (no token set)"))
    print(f"  manual trade  POST {url}/   " + ("signed" if served.manual else f"off: set {SECRET_ENV}"))
    print(f"  telegram      POST {url}/telegram  " + ("on" if remote.telegram_webhook_secret else "off"))
    print(f"  try           coinswarm trade buy BTC-USD 50 --url {url}")
