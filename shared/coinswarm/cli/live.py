"""`coinswarm live ack`: the owner has looked at why live trading halted (a venue fill that was not
believable, or the live broker's book and the ledger disagreeing) and lets new orders flow again.

The book's cash and holdings are rebased on the ledger (the account of record, deduplicated by fill id)
plus the fills booked and not logged yet; the anomalies are kept as acknowledged. See
`coinswarm.adapters.live_book_check`."""

from __future__ import annotations

import argparse
import time
from typing import Any

from coinswarm.cli.common import add_config_arg, add_state_arg, fail, open_configured, settings_from
from coinswarm.ports.state import update_document
from coinswarm.stages.ledger import Ledger


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "live",
        help="live trading's owner controls: acknowledge a halt (ack)",
        description="Owner controls of live trading. `ack`: after a halt (a venue fill that was not believable, "
        "or the live book and the ledger disagreeing: `coinswarm status` says which), rebase the live book on "
        "the ledger and let new orders flow again.",
    )
    p.add_argument("action", choices=["ack"], help="ack: the halt was looked at; trade on")
    add_config_arg(p)
    add_state_arg(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from coinswarm.adapters import live_book_check as check
    from coinswarm.adapters.live_broker import book_key

    opened = open_configured(args, settings_from(args))
    settings, state = opened.settings, opened.state
    key = book_key(settings.account)
    if state.get(key) is None:
        fail(f"there is no live book for account {settings.account} ({opened.where}): nothing to acknowledge")
    ledger = Ledger(opened.history, settings.ledger_stream)
    report = ledger.verify()
    if not report.ok:
        fail(
            f"the ledger itself does not verify ({'; '.join(report.problems)}): the book cannot be rebased on it; "
            f"run `coinswarm ledger verify` and repair the ledger first",
            1,
        )
    changed: list[str] = []
    view = check.read_ledger(ledger, 0)  # the ledger before the book: see live_book_check.read_ledger

    def change(book: dict[str, Any]) -> bool:
        changed[:] = check.acknowledge(book, view, time.time())
        return True

    update_document(state, key, dict, change, retries=20, what="live book")
    print(f"live book {key} ({opened.where}): acknowledged")
    for line in changed or ["nothing to change: the book agrees with the ledger and trading was not halted"]:
        print(f"  {line}")
    return 0
