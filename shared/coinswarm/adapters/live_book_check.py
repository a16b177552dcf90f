"""The live book's own checks, so that money is never booked on the venue's word alone.

A venue fill is booked once (by trade id: within one answer, across answers and restarts, the book
keeps the ids it has booked) and only when it is believable: it must not take the order past what was
ordered, carry a negative fee, or be priced far from the order's reference (the price the decision saw).
A fill that fails is not booked: it is kept in the book's `anomalies`, logged, and shown by `coinswarm
status`.

The book and the ledger must agree: every fill the broker books is also handed to the ledger (by the
placement's PlacementDone), so the book's cash and holdings equal the ledger's plus the fills booked
and not logged yet (`unlogged`, by fill id; pruned as they show up in the ledger). A fill booked and
missing from the ledger for longer than `UNLOGGED_GRACE_S` counts as a disagreement too.

An anomaly or a disagreement halts the book (`halt`): the live broker refuses every new order, as an
open circuit breaker does, until the owner has looked and runs `coinswarm live ack`, which rebases the
book's cash and holdings on the ledger (the ledger, deduplicated by fill id, is the account of record)
and lifts the halt. Orders resting at the venue (protective stops) are not touched by a halt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coinswarm.domain.models import FillRecorded, iso
from coinswarm.domain.portfolio import Portfolio
from coinswarm.venues.models import VenueFill

if TYPE_CHECKING:
    from coinswarm.stages.ledger import Ledger

log = logging.getLogger("coinswarm.live")
MIN_FILL_GAP = 0.10  # a fill this far (or `2 x max_price_gap`, if more) from the order's reference is flagged
QUOTE_SLACK = 0.005  # a quote-sized order's fills may exceed its quote size by this share (rounding, fees)
UNLOGGED_GRACE_S = 900  # a booked fill not in the ledger after this long is a disagreement
KEEP_ANOMALIES = 50
ACK_HELP = "look at `coinswarm status` and the venue's own record, then run `coinswarm live ack`"


def judge_fill(vf: VenueFill, rec: dict[str, Any], reference: float | None, max_gap: float) -> str:
    """Why the venue's fill `vf` of the order `rec` must not be booked as it is ('' when it may be)."""
    if vf.fee < 0:
        return f"a negative fee {vf.fee:.8g} {vf.fee_asset}"
    if reference and reference > 0 and abs(vf.price / reference - 1) > max_gap:
        return f"a price {vf.price:,.8g}, {abs(vf.price / reference - 1):.1%} away from the order's {reference:,.8g}"
    base, quote = rec.get("base_size"), rec.get("quote_size")
    if base is not None and rec["filled"] + vf.size > float(base) * (1 + 1e-9) + 1e-12:
        return (
            f"a fill of {vf.size:.8g} taking the order to {rec['filled'] + vf.size:.8g}, more than the {base} ordered"
        )
    value = rec.get("filled_value", 0.0) + vf.size * vf.price
    if quote is not None and value > float(quote) * (1 + QUOTE_SLACK) + 0.01:
        return f"fills worth {value:,.2f}, more than the {float(quote):,.2f} ordered"
    return ""


def flag(book: dict[str, Any], cid: str, trade_id: str, what: str, ts: int) -> None:
    """Keep an anomaly (not booked) and halt the book; logged once, when first seen."""
    note = f"order {cid}: the venue reported trade {trade_id} with {what}; not booked"
    log.error("live: %s; new orders stop until the owner acknowledges (%s)", note, ACK_HELP)
    book["anomalies"] = [*book.get("anomalies", []), {"ts": ts, "cid": cid, "trade_id": trade_id, "what": note}][
        -KEEP_ANOMALIES:
    ]
    halt(book, note, ts)


def halt(book: dict[str, Any], reason: str, ts: int) -> None:
    if not book.get("halt"):
        book["halt"] = {"reason": reason, "ts": ts}


def halted(book: dict[str, Any]) -> str:
    """Why the book refuses new orders ('' when it does not)."""
    h = book.get("halt")
    if not h:
        return ""
    return f"live trading halted since {iso(int(h['ts']))}: {h['reason']}; {ACK_HELP}"


@dataclass(frozen=True, slots=True)
class LedgerView:
    """The ledger as one consistent read: the account folded to `seq`, and the fill ids it logged since
    the book last looked (so they leave `unlogged`)."""

    portfolio: Portfolio
    logged: frozenset[str]

    @property
    def seq(self) -> int:
        return self.portfolio.seq


def read_ledger(ledger: Ledger, after_seq: int) -> LedgerView:
    """Read the ledger BEFORE the book: every fill in it was booked before it was logged, so a book read
    afterwards holds each of them (in its holdings, and in `unlogged` until pruned)."""
    portfolio = ledger.portfolio()
    events = ledger.history.read(ledger.stream, after_seq=min(after_seq, portfolio.seq))
    logged = frozenset(
        e.payload.fill.fill_id for e in events if e.seq <= portfolio.seq and isinstance(e.payload, FillRecorded)
    )
    return LedgerView(portfolio, logged)


def note_booked(book: dict[str, Any], fill_id: str, symbol: str, quantity: float, cash: float, now: float) -> None:
    """Remember a booked fill until the ledger shows it (`quantity` signed, `cash` the change of cash)."""
    book["unlogged"] = {
        **book.get("unlogged", {}),
        fill_id: {"symbol": symbol, "quantity": quantity, "cash": cash, "ts": now},
    }


def compare(book: dict[str, Any], view: LedgerView, now: float) -> str:
    """Prune what the ledger logged from `unlogged`, then say where the book and the ledger disagree
    ('' when they agree). Changes `book` (unlogged, ledger_seq)."""
    unlogged = {k: v for k, v in book.get("unlogged", {}).items() if k not in view.logged}
    book["unlogged"] = unlogged
    book["ledger_seq"] = max(int(book.get("ledger_seq", 0)), view.seq)
    p = view.portfolio
    if p.seq == 0:
        return ""  # no account in the ledger yet: nothing to compare
    problems: list[str] = []
    symbols = set(book["positions"]) | set(p.holdings) | {u["symbol"] for u in unlogged.values()}
    for symbol in sorted(symbols):
        pending = sum(u["quantity"] for u in unlogged.values() if u["symbol"] == symbol)
        expected = p.quantity(symbol) + pending
        held = float(book["positions"].get(symbol, 0.0))
        if abs(held - expected) > 1e-9 * max(1.0, abs(expected)) + 1e-12:
            problems.append(f"the book holds {held:.8g} {symbol}, the ledger {p.quantity(symbol):.8g}" + (
                f" (+{pending:.8g} booked, not logged yet)" if pending else ""
            ))  # fmt: skip
    cash = p.cash + sum(u["cash"] for u in unlogged.values())
    if abs(float(book["cash"]) - cash) > 1e-6 * max(1.0, abs(cash)):
        problems.append(f"the book's cash is {float(book['cash']):,.8g}, the ledger's {cash:,.8g}")
    late = [k for k, u in unlogged.items() if now - float(u["ts"]) > UNLOGGED_GRACE_S]
    if late:
        problems.append(f"fill {late[0]} was booked over {UNLOGGED_GRACE_S} s ago and is not in the ledger")
    return "; ".join(problems)


def acknowledge(book: dict[str, Any], view: LedgerView, now: float) -> list[str]:
    """The owner has looked: rebase the book's cash and holdings on the ledger (plus what is booked and
    not logged yet), lift the halt, keep the anomalies as acknowledged. Returns what changed."""
    compare(book, view, now)
    unlogged = book["unlogged"]
    p = view.portfolio
    changed: list[str] = []
    symbols = set(book["positions"]) | set(p.holdings)
    positions = {}
    for symbol in sorted(symbols):
        quantity = p.quantity(symbol) + sum(u["quantity"] for u in unlogged.values() if u["symbol"] == symbol)
        positions[symbol] = quantity if quantity > 1e-12 else 0.0
        if abs(positions[symbol] - float(book["positions"].get(symbol, 0.0))) > 1e-12:
            changed.append(f"{symbol}: {float(book['positions'].get(symbol, 0.0)):.8g} -> {positions[symbol]:.8g}")
    cash = p.cash + sum(u["cash"] for u in unlogged.values())
    if abs(cash - float(book["cash"])) > 1e-9:
        changed.append(f"cash: {float(book['cash']):,.8g} -> {cash:,.8g}")
    book["positions"], book["cash"] = positions, cash
    if book.get("halt"):
        changed.append(f"halt lifted: {book['halt']['reason']}")
    book["halt"] = None
    book["acknowledged"] = [*book.get("acknowledged", []), *book.get("anomalies", [])][-KEEP_ANOMALIES:]
    book["anomalies"] = []
    return changed
