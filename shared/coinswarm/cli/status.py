"""`coinswarm status`: positions, cash, P&L, the last decisions, the kill switch, the venues' circuit breakers."""

from __future__ import annotations

import argparse
import json
from typing import Any

from coinswarm.cli.common import add_config_arg, add_state_arg, open_configured, settings_from
from coinswarm.cli.owner_status import controls_json, controls_lines, exit_state_lines, exit_states, kill_switch_text
from coinswarm.cli.summary import account_line, command_name, figures, position_lines
from coinswarm.domain.models import iso
from coinswarm.domain.votes import votes_text
from coinswarm.stages.ledger import Ledger
from coinswarm.stages.placement import KILL_SWITCH_KEY


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status",
        help="positions, cash, P&L, the last decisions, the kill switch",
        description="Show what the state file (or the cloud stores the configuration names) holds: the account "
        "folded from the ledger (valued at the newest "
        "stored closes), pending orders, the newest decisions with every vote, risk refusals and the kill switch.",
    )
    add_config_arg(p)
    add_state_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument("--decisions", type=int, default=10, metavar="N", help="how many recent decisions (default 10)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    opened = open_configured(args, settings_from(args))
    settings, state, history = opened.settings, opened.state, opened.history
    ledger = Ledger(history, settings.ledger_stream)
    fig = figures(ledger.portfolio(), state, list(settings.symbols), settings.timeframe_s)
    decisions = history.recent_decisions(args.decisions)
    rejections = history.recent_rejections(5)
    kill = state.get(KILL_SWITCH_KEY)
    kill_doc: dict[str, Any] = kill.value if kill else {"on": False}
    book = state.get(f"{'live' if settings.mode == 'live' else 'paper'}:{settings.account}:book")
    pending = [book.value["orders"][cid] for cid in book.value["pending"]] if book else []
    breakers = [b.value for v in settings.venues if (b := state.get(f"venue:{v.name}:breaker")) is not None]
    events = ledger.events()
    if args.json:
        print(
            json.dumps(
                {
                    "state": str(opened.path) if opened.path else opened.where,
                    "mode": settings.mode,
                    "account": settings.account,
                    "kill_switch": kill_doc,
                    **fig.to_json(),
                    "pending_orders": pending,
                    "circuit_breakers": breakers,
                    **live_book_json(book.value if book else None),
                    "decisions": [d.model_dump(mode="json") for d in decisions],
                    "risk_rejections": [r.model_dump(mode="json") for r in rejections],
                    "ledger_seq": ledger.portfolio().seq,
                    **controls_json(state, settings.account, events),
                    "exit_state": exit_states(state, settings.account, sorted(fig.portfolio.holdings)),
                },
                indent=2,
            )
        )
        return 0
    print(f"Coinswarm status · {opened.where} · account {settings.account} · mode {settings.mode.upper()}")
    print(f"kill switch  {kill_switch_text(kill_doc)}")
    for line in controls_lines(state, settings.account, events):
        print(line)
    for b in breakers:
        print(f"breaker      {b['describe']} (as of {iso(b['ts'])})")
    for line in live_book_lines(book.value if book else None):
        print(line)
    print(f"account      {account_line(fig)}")
    print("positions")
    for line in position_lines(fig):
        print(line)
    for line in exit_state_lines(state, settings.account, sorted(fig.portfolio.holdings)):
        print(line)
    print(f"pending      {len(pending)} order(s)" + "".join(f"\n  {o['client_order_id']} {o['side']}" for o in pending))
    print("last decisions")
    for d in decisions:
        print(f"  {iso(d.ts)} {d.symbol:<9} {d.action.value.upper():<4} {d.confidence:.2f}  {votes_text(d)}")
    if not decisions:
        print("  (none yet)")
    if rejections:
        print("risk refusals")
        for r in rejections:
            print(f"  {iso(r.ts)} {r.symbol:<9} {r.side.value:<4} {r.reason}")
    again = f"--state {opened.path}" if opened.path else "with the same configuration"
    print(f"ledger       {fig.portfolio.seq} events · verify with: {command_name()} ledger verify {again}")
    return 0


def live_book_json(book: dict[str, Any] | None) -> dict[str, Any]:
    """The live book's halt and its flagged venue fills (not booked), for `status --json`."""
    if book is None or "unlogged" not in book:
        return {}
    stops = [book["orders"][cid] for cid in book.get("stops", {}).values() if cid in book["orders"]]
    return {"live_halt": book.get("halt"), "fill_anomalies": book.get("anomalies", []), "protective_stops": stops}


def live_book_lines(book: dict[str, Any] | None) -> list[str]:
    """The protective stops resting at the venue, why live trading is halted (new orders stop until
    `coinswarm live ack`), and each venue fill that was flagged and not booked."""
    if not book:
        return []
    lines = [
        f"stop         {o['symbol']} {o['base_size']:.8g} at {o['stop_price']:,.8g} (limit {o['limit_price']:,.8g}) "
        f"{'resting at ' + o['venue'] if o['stage'] == 'open' else o['stage']}: {o['client_order_id']}"
        for cid in book.get("stops", {}).values()
        if (o := book["orders"].get(cid)) is not None
    ]
    if book.get("halt"):
        h = book["halt"]
        lines.append(f"live         HALTED since {iso(int(h['ts']))}: new orders stop: {h['reason']}")
        lines.append(f"             look, then: {command_name()} live ack")
    lines += [f"  flagged    {iso(int(a['ts']))} {a['what']}" for a in book.get("anomalies", [])]
    return lines
