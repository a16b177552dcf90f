"""`coinswarm ledger verify`, `coinswarm config show` and `coinswarm kill-switch`."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import Any

from coinswarm.cli.common import (
    add_config_arg,
    add_state_arg,
    in_the_cloud,
    open_configured,
    open_sqlite,
    settings_from,
    state_to_write,
)
from coinswarm.config.loader import masked_dump
from coinswarm.stages.ledger import Ledger
from coinswarm.stages.placement import kill_switch_on, set_kill_switch


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ledger = sub.add_parser("ledger", help="the append-only ledger", description="Work with the ledger.")
    lsub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")
    verify = lsub.add_parser(
        "verify",
        help="rebuild state from the events and compare it with the stored projection",
        description="Fold every ledger event from the first, check the sequence numbers run 1, 2, 3, ... without "
        "a gap, compare the result with the stored projection (cash, positions, P&L, fees), and reconcile it "
        "with the broker's book: the live broker's (live:<account>:book) when the configuration is live, else "
        "the paper broker's. Exits 0 when all agree, 1 otherwise.",
    )
    add_config_arg(verify)
    add_state_arg(verify)
    verify.add_argument("--json", action="store_true", help="print one JSON object instead")
    verify.set_defaults(func=verify_main)

    config = sub.add_parser("config", help="the configuration", description="Work with the configuration.")
    csub = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    show = csub.add_parser(
        "show",
        help="print the effective configuration, secrets masked",
        description="Print the configuration as Coinswarm sees it: the file, then COINSWARM_* environment "
        "overrides, then defaults. Secrets print as '**********'. A bad value is refused with the field named.",
    )
    add_config_arg(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    show.set_defaults(func=show_main)

    kill = sub.add_parser(
        "kill-switch",
        help="stop (or allow again) every order at once",
        description="One stored flag that stops every order the bot would send, exits included, whatever the "
        "committee or the exit rules decide. Stops already resting at the venue stay there and still protect "
        "the positions. Only the owner's `coinswarm flatten` still goes out. `coinswarm pause` is the milder "
        "control: no new entries, exits go on.",
    )
    kill.add_argument("action", choices=["on", "off", "status"])
    kill.add_argument("--reason", default="", help="why (kept with the flag, shown by status)")
    add_config_arg(kill)
    add_state_arg(kill)
    kill.set_defaults(func=kill_main)


BOOKS = {"paper": ("paper broker", "paper:{}:book"), "live": ("live broker", "live:{}:book")}


@dataclass
class Reconciled:
    book: str  # which book was compared, for the user ("the live broker's book live:acct:book"); "" if none
    problems: list[str]
    pending: int = 0  # live orders still followed at the venue (their fills are not in the ledger yet)


def reconcile(store: Any, account: str, ledger_cash: float, holdings: dict[str, float], *, mode: str) -> Reconciled:
    """Compare the broker's book with the ledger: the book of the configured mode (the live broker's in
    live mode), else the other one when only it exists (a state file written in the other mode)."""
    other = "paper" if mode == "live" else "live"
    for kind in (mode, other):
        who, key = BOOKS[kind][0], BOOKS[kind][1].format(account)
        found = store.get(key)
        if found is not None:
            break
    else:
        return Reconciled("", [])
    book = found.value
    problems = []
    if abs(book["cash"] - ledger_cash) > 1e-6 * max(1.0, abs(ledger_cash)):
        problems.append(
            f"{who} cash {book['cash']!r} ({key}) differs from the ledger's {ledger_cash!r}: the book and the "
            "ledger no longer tell the same story; do not trade on until it is explained"
        )
    for symbol in sorted(set(book["positions"]) | set(holdings)):
        a, b = book["positions"].get(symbol, 0.0), holdings.get(symbol, 0.0)
        if abs(a - b) > 1e-9 * max(1.0, abs(a)):
            problems.append(f"{who} holds {a!r} {symbol} ({key}), the ledger {b!r}")
    return Reconciled(f"the {who}'s book {key}", problems, len(book.get("pending", [])) if kind == "live" else 0)


def verify_main(args: argparse.Namespace) -> int:
    opened = open_configured(args, settings_from(args))
    settings = opened.settings
    ledger = Ledger(opened.history, settings.ledger_stream)
    report = ledger.verify()
    portfolio = ledger.portfolio()
    books = reconcile(
        opened.state,
        settings.account,
        portfolio.cash,
        {s: h.quantity for s, h in portfolio.holdings.items()},
        mode=settings.mode,
    )
    problems = list(report.problems) + books.problems
    if args.json:
        print(
            json.dumps(
                {
                    "stream": report.stream,
                    "events": report.events,
                    "ok": not problems,
                    "problems": problems,
                    "book": books.book or None,
                    "pending_live_orders": books.pending,
                }
            )
        )
    elif problems:
        print(f"ledger {report.stream}: {report.events} events — {len(problems)} problem(s):")
        for p in problems:
            print(f"  - {p}")
    else:
        agrees = f", and {books.book} agrees" if books.book else " (no broker's book to compare yet)"
        waiting = f"; {books.pending} live order(s) still followed at the venue" if books.pending else ""
        print(
            f"ledger {report.stream}: {report.events} events, sequence 1..{report.events} unbroken; "
            f"the projection equals the state rebuilt from the events{agrees}{waiting}. OK"
        )
    return 0 if not problems else 1


def to_toml(data: dict[str, Any], prefix: str = "") -> list[str]:
    """Render plain data as TOML (None, which TOML lacks, as a commented-out line)."""
    lines: list[str] = []
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in data.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    for key, value in data.items():
        if key in tables or key in arrays:
            continue
        lines.append(f"# {key} = (not set)" if value is None else f"{key} = {json.dumps(value)}")
    for key, items in arrays.items():
        for item in items:
            lines += ["", f"[[{prefix}{key}]]", *to_toml(item, f"{prefix}{key}.")]
    for key, value in tables.items():
        lines += ["", f"[{prefix}{key}]", *to_toml(value, f"{prefix}{key}.")]
    return lines


def show_main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    data = masked_dump(settings)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print("# the effective Coinswarm configuration (secrets masked)")
        print("\n".join(to_toml(data)))
    return 0


def kill_main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if in_the_cloud(settings) or args.action == "status":
        opened = open_configured(args, settings)
        state, where = opened.state, opened.where
    else:  # switching it on before the first run creates the state file --state names
        path = state_to_write(args, settings)
        state, where = open_sqlite(path), f"state {path}"
    if args.action == "status":
        on = kill_switch_on(state)
        print(f"kill switch is {'ON' if on else 'off'} ({where}){'; ' + KILL_SWITCH_LEAVES if on else ''}")
        return 0
    on = args.action == "on"
    set_kill_switch(state, on, reason=args.reason, ts=int(time.time()))
    if on:
        print(f"kill switch ON: the bot sends no order at all ({where}); {KILL_SWITCH_LEAVES}")
    else:
        print(f"kill switch off: orders may flow again ({where})")
    return 0


KILL_SWITCH_LEAVES = "stops resting at the venue stay and still protect the positions; `coinswarm flatten` still exits"
