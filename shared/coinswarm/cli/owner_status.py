"""What `coinswarm status` shows of the owner's controls, the protections' pauses and the exits."""

from __future__ import annotations

from collections import Counter
from typing import Any

from coinswarm.domain.models import Fill, FillRecorded, LedgerEvent, Side, iso
from coinswarm.stages.controls import pause_document
from coinswarm.stages.exit_watch import stored_exit_state
from coinswarm.stages.protection_watch import stored_pauses

RECENT_EXITS = 5


def exits_of(events: list[LedgerEvent]) -> list[Fill]:
    return [e.payload.fill for e in events if isinstance(e.payload, FillRecorded) and e.payload.fill.side is Side.SELL]


def exit_states(state: Any, account: str, symbols: list[str]) -> dict[str, dict[str, Any]]:
    """Each open position's exit state as the cycle keeps it: entry, highest price, stop."""
    found = {s: stored_exit_state(state, account, s) for s in symbols}
    return {s: doc for s, doc in found.items() if doc is not None}


def exit_state_lines(state: Any, account: str, symbols: list[str]) -> list[str]:
    lines = []
    for symbol, doc in exit_states(state, account, symbols).items():
        t = doc["tracker"]
        stop = f"stop {t['stop']:,.6g}{' (trailing)' if t['trailing'] else ''}" if t["stop"] is not None else "no stop"
        pending = f" · exit order {doc['exit_order']} on its way" if doc.get("exit_order") else ""
        lines.append(
            f"  {symbol:<9} exits: entry {t['entry_price']:,.6g} at {iso(int(t['entry_ts']))} · high "
            f"{t['highest']:,.6g} · {stop}{pending}"
        )
    return lines


def controls_json(state: Any, account: str, events: list[LedgerEvent]) -> dict[str, Any]:
    exits = exits_of(events)
    return {
        "entries_paused": pause_document(state),
        "protection_pauses": [p.to_dict() for p in stored_pauses(state, account)],
        "exit_reasons": dict(Counter(str(f.exit_reason or "unknown") for f in exits)),
        "recent_exits": [f.model_dump(mode="json") for f in exits[-RECENT_EXITS:][::-1]],
    }


def kill_switch_text(doc: dict[str, Any]) -> str:
    if not doc.get("on"):
        return "off"
    reason = f"{doc['reason']} · " if doc.get("reason") else ""
    return f"ON: {reason}the bot sends no order; stops resting at the venue stay; flatten still exits"


def controls_lines(state: Any, account: str, events: list[LedgerEvent]) -> list[str]:
    pause = pause_document(state)
    lines = [
        "entries      "
        + (
            f"PAUSED by the owner{': ' + pause['reason'] if pause.get('reason') else ''} since {iso(int(pause['ts']))}"
            " · exits go on · lift with: coinswarm resume"
            if pause.get("on")
            else "open"
        )
    ]
    for p in stored_pauses(state, account):
        lines.append(f"protection   {p.describe()}")
    exits = exits_of(events)
    if exits:
        counts = Counter(str(f.exit_reason or "unknown") for f in exits)
        lines.append("exits        " + ", ".join(f"{reason} {n}" for reason, n in counts.most_common()))
        for f in exits[-RECENT_EXITS:][::-1]:
            lines.append(
                f"  {iso(f.ts)} {f.symbol:<9} sold {f.quantity:.8g} @ {f.price:,.6g} · {f.exit_reason or 'unknown'}"
            )
    return lines
