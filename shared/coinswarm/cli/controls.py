"""`coinswarm pause`, `resume` and `flatten`: the owner's controls (the kill switch is in cli.admin).
docs/owner-controls.md says what each stops and what stays protected."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from coinswarm.cli.common import (
    add_config_arg,
    add_state_arg,
    fail,
    in_the_cloud,
    open_configured,
    open_sqlite,
    settings_from,
    state_to_write,
)
from coinswarm.config.settings import SYMBOL_RE, Settings
from coinswarm.domain.models import Fill
from coinswarm.stages.controls import Flattened, flatten, set_paused

FLATTEN_HELP = """Exit now at market, with exit reason `flatten`: the whole position of SYMBOL, or of every symbol
held with --all. It is the owner's explicit order: it goes out while entries are paused and even with the
kill switch on. On paper it fills at once at the newest stored close (with the usual fee and slippage);
live, the market order goes to the venue and its fill is booked as the venue reports it (the next cycle
books it if the venue has not filled it yet). Exits 0 when every position asked for is flat or its exit
is on its way, 1 when an exit was refused."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pause = sub.add_parser(
        "pause",
        help="no new entries; exits go on",
        description="Pause new entries: the committee's BUYs are refused with the reason while exits (the exit "
        "rules, a committee SELL, flatten, stops resting at the venue) go on. `coinswarm resume` lifts it.",
    )
    pause.add_argument("--reason", default="", help="why (kept with the flag, shown by status)")
    resume = sub.add_parser("resume", help="allow new entries again", description="Lift `coinswarm pause`.")
    for p, on in ((pause, True), (resume, False)):
        add_config_arg(p)
        add_state_arg(p)
        p.set_defaults(func=pause_main, pause_on=on)

    flat = sub.add_parser("flatten", help="exit now at market (even paused or with the kill switch on)")
    flat.description = FLATTEN_HELP
    flat.add_argument("symbol", nargs="?", metavar="SYMBOL", help="the symbol to exit, e.g. BTC-USD")
    flat.add_argument("--all", action="store_true", help="exit every position held")
    add_config_arg(flat)
    add_state_arg(flat)
    flat.add_argument("--json", action="store_true", help="print one JSON object instead")
    flat.set_defaults(func=flatten_main)


def writable_state(args: argparse.Namespace, settings: Settings) -> tuple[Any, str]:
    """The hot-state store a flag is written to, and where it is, for the user: the state file of the run
    (a new one only when --state names it: a flag set first holds from the first cycle on)."""
    if in_the_cloud(settings):
        opened = open_configured(args, settings)
        return opened.state, opened.where
    path = state_to_write(args, settings)  # as the kill switch finds it (cli.common)
    return open_sqlite(path), f"state {path}"


def pause_main(args: argparse.Namespace) -> int:
    state, where = writable_state(args, settings_from(args))
    set_paused(state, args.pause_on, reason=args.reason if args.pause_on else "", ts=int(time.time()))
    if args.pause_on:
        print(f"entries PAUSED: no new positions; exits and stops resting at the venue go on ({where})")
    else:
        print(f"entries resumed: the committee may open positions again ({where})")
    return 0


def flatten_main(args: argparse.Namespace) -> int:
    if (args.symbol is None) == (not args.all):
        fail("name one SYMBOL (e.g. BTC-USD) to exit, or give --all to exit every position")
    if args.symbol is not None and not SYMBOL_RE.match(args.symbol):
        fail(f"{args.symbol!r} is not a symbol like BTC-USD (BASE-QUOTE, upper case)")
    opened = open_configured(args, settings_from(args))
    app = _app_on(opened)
    settings = app.settings

    def price_of(symbol: str) -> float | None:
        last = app.state.recent_candles(symbol, settings.timeframe_s, 1)
        return last[-1].close if last else None

    def record(fills: list[Fill]) -> None:
        for fill in fills:
            app.ledger.record_fill(fill)
        app.ledger.project()

    done = flatten(
        app.stages.placement,
        None if args.all else [args.symbol],
        now=int(time.time()),
        price_of=price_of,
        record=record,
    )
    refused = [f for f in done if f.rejection is not None]
    if args.json:
        print(json.dumps({"where": opened.where, "flattened": [f.to_dict() for f in done]}))
    else:
        for line in _lines(done, args.all):
            print(line)
    return 1 if refused else 0


def _lines(done: list[Flattened], every: bool) -> list[str]:
    if not done:
        return ["nothing to flatten: no position is held" if every else "nothing to flatten"]
    lines = []
    for f in done:
        if f.rejection is not None:
            lines.append(f"{f.symbol}: exit REFUSED: {f.rejection.reason}")
        elif f.order is None:
            lines.append(f"{f.symbol}: {f.note}")
        elif f.fills:
            sold = sum(x.quantity for x in f.fills)
            avg = sum(x.quantity * x.price for x in f.fills) / sold
            lines.append(
                f"{f.symbol}: flattened, sold {sold:.8g} at {avg:,.6g} (order {f.order.client_order_id}, "
                "exit reason flatten)"
            )
        else:
            lines.append(
                f"{f.symbol}: exit order {f.order.client_order_id} placed ({f.order.status.value}); the venue has "
                "not reported its fill yet: the next cycle, or `coinswarm status`, shows it"
            )
    return lines


def _app_on(opened: Any) -> Any:
    """The App over the stores already opened: the broker the configuration names (paper, or live)."""
    from coinswarm.wiring.bootstrap import Stores, build_app

    def no_market(_settings: Settings) -> Any:
        raise RuntimeError("flatten reads no market data: it exits at the newest stored price")

    app = build_app(
        opened.settings,
        market_from=no_market,
        stores=Stores(opened.state, opened.history, opened.coordination),
        lazy=True,
    )
    app.part("broker")
    return app
