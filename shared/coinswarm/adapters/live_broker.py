"""The live broker: the `Broker` port over a real venue (Coinbase Advanced Trade or Binance).

It promises: an order decided too long ago (`max_decision_age_s`) or on a price too far from the
venue's book (`max_price_gap`) is refused; each order is sent at most once (written to the book as
`sending` under its client order id first; an unknown outcome is looked up, never re-sent); each fill
is booked once, and one that is not believable is flagged instead (`live_book_check`); a book that
disagrees with the ledger halts new orders until `coinswarm live ack`; a buy over
`max_order_notional` is refused; after an entry fills, a protective stop rests at the venue
(`live_stops`). Refusals send nothing and are reported by the next `settle`, as the paper broker's are.
Why and how, step by step: docs/going-live.md.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coinswarm.adapters import live_book_check as check
from coinswarm.adapters.live_stops import ProtectiveStops
from coinswarm.adapters.venue_orders import VenueOrders
from coinswarm.domain.models import ExitReason, Fill, Order, OrderStatus, Side, iso
from coinswarm.domain.risk import AccountView
from coinswarm.errors import (
    CircuitOpenError,
    ConflictError,
    InvalidOrderError,
    RateLimitedError,
    TemporaryVenueError,
    VenueError,
)
from coinswarm.ports.broker import Broker, Settlement
from coinswarm.ports.state import StateStore, read_document, update_document
from coinswarm.venues.models import OrderRequest, VenueFill, VenueOrder, VenueOrderStatus

if TYPE_CHECKING:
    from coinswarm.stages.ledger import Ledger

log = logging.getLogger("coinswarm.live")
RETRIES = 20
KEEP_ORDERS = 200
LOOKBACK_S = 86_400  # how far back the venue is searched for an order this broker sent
#: An order not found at the venue is concluded never placed only this long after it was sent: until
#: then the sender may still be on its way (a slow request, a worker still running).
GRACE_S = 120
# an order's stages in the book: the first four wait for a settle (REFUSED: to report the refusal once)
SENDING, UNKNOWN, OPEN, REFUSED = "sending", "unknown", "open", "refused"
DONE, REJECTED = "done", "rejected"
WAITING = (SENDING, UNKNOWN, OPEN, REFUSED)


def breaker_key(venue: str) -> str:
    return f"venue:{venue}:breaker"


def book_key(account: str) -> str:
    return f"live:{account}:book"


@dataclass(slots=True)
class _Outcome:
    """What one settle learnt from the venue about one order, applied to the book afterwards."""

    cid: str
    venue_order_id: str | None = None
    stage: str | None = None
    note: str = ""
    fills: list[VenueFill] = field(default_factory=list)
    filled_size: float | None = None


class LiveBroker(Broker):
    name = "live"

    def __init__(
        self,
        store: StateStore,
        venue: VenueOrders,
        *,
        account: str,
        starting_cash: float,
        max_order_notional: float,
        min_order_notional: float = 0.0,
        fee_bps: float = 0.0,
        max_decision_age_s: float = 300.0,
        max_price_gap: float = 0.05,
        timeframe_s: int | None = None,
        clock: Callable[[], float] = time.time,
        ledger: Callable[[], Ledger] | None = None,
        stop_loss_pct: float | None = None,
        stop_limit_offset_pct: float = 1.0,
        trailing: tuple[float | None, float, bool] = (None, 0.0, False),
    ) -> None:
        """`ledger`: the account's ledger (built on first use), which the book must agree with; without
        it (a broker on its own, in tests) the book is not compared. `stop_loss_pct`: the protective stop
        placed at the venue after each entry, this far below the entry price (None: none); `trailing`:
        exits.trailing_stop_pct, trailing_offset_pct and trailing_only_offset_reached (see live_stops)."""
        self.store = store
        self.venue = venue
        self.key = book_key(account)
        self.starting_cash = starting_cash
        self.max_order_notional = max_order_notional
        self.min_order_notional = min_order_notional
        self.fee_rate = fee_bps / 1e4
        self.max_decision_age_s = max_decision_age_s
        self.max_price_gap = max_price_gap
        self.timeframe_s = timeframe_s
        self.clock = clock
        self.ledger = ledger
        self.max_fill_gap = max(check.MIN_FILL_GAP, 2 * max_price_gap)
        self.stops = ProtectiveStops(
            self,
            stop_loss_pct=stop_loss_pct,
            limit_offset_pct=stop_limit_offset_pct,
            trailing_stop_pct=trailing[0],
            trailing_offset_pct=trailing[1],
            trailing_only_offset_reached=trailing[2],
        )
        self._breaker_seen: tuple[str, int] | None = None

    # -- port ---------------------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        book, _ = self._book()
        known = book["orders"].get(order.client_order_id)
        if known is not None:
            return _as_order(known)
        seen = self._decision_price(order, book)
        req, refusal = self._request(order, book, seen)
        if req is not None:
            refusal = self._halted()
            req = None if refusal else req
        if req is not None and order.side is Side.SELL:  # an exit: its resting stop is cancelled first
            why = self.stops.cancel(order.symbol)
            if why:
                req, refusal = None, f"not placed: {why}; the exit is tried again next cycle"
            else:  # the stop may have filled meanwhile: size the sell on what is held now
                book = self._book()[0]
                req, refusal = self._request(order, book, seen)
        record = {
            **order.model_dump(mode="json"),
            "status": OrderStatus.PENDING.value,
            "stage": REFUSED if refusal else SENDING,
            "note": refusal,
            "venue": self.venue.name,
            "venue_symbol": self.venue.quirks.venue_symbol(order.symbol),
            "venue_order_id": None,
            "sent_ts": int(self.clock()),
            "trades": [],
            "filled": 0.0,
            "filled_value": 0.0,
            "base_size": None if req is None or req.base_size is None else float(req.base_size),
            "quote_size": None if req is None or req.quote_size is None else float(req.quote_size),
            "reference_price": seen,
        }
        if not self._write_ahead(record):  # someone else wrote this id first: theirs stands
            return _as_order(self._book()[0]["orders"][order.client_order_id])
        if req is None:
            log.warning("live: order %s refused before the venue: %s", order.client_order_id, refusal)
            return _as_order(record)
        stage, venue_order_id, note = self._send(req, seen)
        if stage == REFUSED:
            log.warning("live: order %s %s", order.client_order_id, note, extra={"venue": self.venue.name})
        self._change_order(order.client_order_id, stage=stage, venue_order_id=venue_order_id, note=note)
        self._note_breaker()
        return _as_order({**record, "stage": stage, "note": note})

    def settle(self, symbol: str, observed_price: float, ts: int) -> Settlement:
        book, version = self._book()
        mine = [cid for cid in book["pending"] if book["orders"][cid]["symbol"] == symbol]
        if not mine:
            if book["prices"].get(symbol) != observed_price:  # a later order's value is estimated from it
                try:
                    noted = {**book, "prices": {**book["prices"], symbol: observed_price}}
                    self.store.put(self.key, noted, expected_version=version)
                except ConflictError:
                    pass  # a newer price or fill won; the next settle sees the price again
            return Settlement(self.stops.reconcile(symbol, observed_price, ts))
        outcomes = [self._ask_venue(book["orders"][cid]) for cid in mine]
        self._note_breaker()
        view = self._ledger_view(book)
        fills: list[Fill] = []
        refused: list[Order] = []
        still: list[bool] = [False]

        def change(book: dict[str, Any]) -> bool:
            fills.clear()
            refused.clear()
            book["prices"] = {**book["prices"], symbol: observed_price}
            book["orders"] = dict(book["orders"])
            book["positions"] = dict(book["positions"])
            for outcome in outcomes:
                self._apply(book, outcome, observed_price, ts, fills, refused)
            self._compare(book, view)
            book["pending"] = [cid for cid in book["pending"] if book["orders"][cid]["stage"] in WAITING]
            still[0] = any(book["orders"][cid]["symbol"] == symbol for cid in book["pending"])
            self._trim(book)
            return True

        self._update(change)
        protective = self.stops.reconcile(symbol, observed_price, ts)
        return Settlement([*fills, *protective], list(refused), pending=still[0])

    def has_pending(self, symbol: str) -> bool:
        found = self.store.get(self.key)
        return found is not None and any(
            found.value["orders"][cid]["symbol"] == symbol for cid in found.value["pending"]
        )

    def account(self) -> AccountView:
        book = self._book()[0]
        return AccountView(cash=book["cash"], positions=dict(book["positions"]), prices=dict(book["prices"]))

    def get_order(self, client_order_id: str) -> Order | None:
        known = self._book()[0]["orders"].get(client_order_id)
        return None if known is None else _as_order(known)

    def pending(self, symbol: str | None = None) -> list[Order]:
        book = self._book()[0]
        orders = [_as_order(book["orders"][cid]) for cid in book["pending"]]
        return [o for o in orders if symbol is None or o.symbol == symbol]

    # -- sizing and refusals ----------------------------------------------------------------------
    def _decision_price(self, order: Order, book: dict[str, Any]) -> float | None:
        """The price the decision saw: the close of the newest stored candle when it closed when the order
        was decided (within two timeframes: a manual trade is priced at it too); else the price the last
        settle observed. (A cycle's settle price is its first new candle's open: after a long warm-up or
        downtime that is hours old, and would make a current decision look stale.)"""
        if self.timeframe_s:
            closed_by = order.placed_ts - self.timeframe_s  # candles that had closed when it was decided
            last = self.store.recent_candles(order.symbol, self.timeframe_s, 1, until_ts=closed_by)
            if last and order.placed_ts - last[-1].close_ts <= 2 * self.timeframe_s:
                return last[-1].close
        price = book["prices"].get(order.symbol)
        return float(price) if price is not None else None

    def _request(self, order: Order, book: dict[str, Any], price: float | None) -> tuple[OrderRequest | None, str]:
        """The venue request for `order` (valued at `price`, what the decision saw), or None and why it is
        refused before reaching the venue."""
        q = self.venue.quirks
        age = self.clock() - order.placed_ts
        if age > self.max_decision_age_s:
            return None, (
                f"refused: decided at {iso(order.placed_ts)}, {age:,.0f} s ago: live orders go out only on current "
                "prices (a replay, a synthetic series or a late redelivery never trades live)"
            )
        held = book["positions"].get(order.symbol, 0.0)
        cash = book["cash"]
        quote_size: float | None = None
        base_size: float | None = None
        if order.side is Side.BUY:
            if order.quantity is not None:
                base_size = _down(order.quantity, q.base_decimals)
                notional = base_size * price if price else math.inf
            else:
                wanted = order.notional if order.notional is not None else cash * (order.fraction or 0.0)
                affordable = cash / (1 + self.fee_rate)
                quote_size = _down(min(wanted, affordable), q.quote_decimals)
                notional = quote_size
        else:
            if order.quantity is not None:
                wanted = order.quantity
            elif order.notional is not None:
                wanted = order.notional / price if price else math.inf
            else:
                wanted = held if (order.fraction or 0.0) >= 1.0 else held * (order.fraction or 0.0)
            base_size = _down(min(wanted, held), q.base_decimals)
            notional = base_size * price if price else math.inf
        if (base_size if base_size is not None else quote_size or 0.0) <= 0.0:
            why = f"nothing held of {order.symbol}" if order.side is Side.SELL else "no cash left in the budget"
            return None, f"refused: {why}"
        if notional == math.inf:
            return None, f"refused: no price observed for {order.symbol} yet, so the order's value is unknown"
        if order.side is Side.BUY and notional > self.max_order_notional:  # a sell only gives back what is held
            return None, (
                f"refused: a buy of {notional:,.2f} is over the per-order cap live.max_order_notional "
                f"{self.max_order_notional:,.2f}; nothing sent to {q.name}"
            )
        closes = order.side is Side.SELL and base_size == _down(held, q.base_decimals)
        if notional < self.min_order_notional and not closes:
            return None, f"refused: {notional:,.2f} is below the minimum order {self.min_order_notional:,.2f}"
        return OrderRequest(
            order.client_order_id,
            q.venue_symbol(order.symbol),
            order.side,
            "market",
            base_size=base_size,
            quote_size=quote_size,
        ), ""

    def _send(self, req: OrderRequest, observed: float | None) -> tuple[str, str | None, str]:
        """Preview (where the venue has one) and compare the venue's price with the one the decision saw,
        then place. Returns the order's stage, the venue's order id and a note."""
        venue = self.venue.name
        try:
            bid = ask = None
            if self.venue.quirks.has_preview:
                preview = self.venue.preview(req)
                if preview is not None and not preview.ok:
                    errors = ", ".join(preview.errors)
                    return REFUSED, None, f"refused by {venue}'s preview: {errors}; nothing placed"
                bid, ask = (preview.best_bid, preview.best_ask) if preview is not None else (None, None)
            if observed is not None and not (bid and ask):
                top = self.venue.top(req.symbol)
                bid, ask = top.bid, top.ask
        except VenueError as exc:  # a preview or a price check places nothing: refused, safely
            return REFUSED, None, f"not placed: {venue} could not preview or price it ({exc.reason})"
        if observed is not None and bid and ask:
            mid = (bid + ask) / 2
            gap = abs(observed / mid - 1)
            if gap > self.max_price_gap:
                note = (
                    f"refused: the decision saw {observed:,.2f}, {gap:.1%} away from {venue}'s {mid:,.2f} now "
                    f"(over {self.max_price_gap:.0%}): stale prices or another market's; nothing placed"
                )
                return REFUSED, None, note
        return self._place(req)

    def _place(self, req: OrderRequest) -> tuple[str, str | None, str]:
        """Place `req` once; the order's stage, the venue's order id and a note."""
        venue = self.venue.name
        try:
            placed = self.venue.place(req)
        except CircuitOpenError as exc:
            return REFUSED, None, f"not placed: {exc.reason}"
        except RateLimitedError as exc:
            return REFUSED, None, f"not placed: {venue} {exc.reason}"
        except InvalidOrderError as exc:
            return REFUSED, None, f"refused by {venue}: {exc.reason}"
        except TemporaryVenueError as exc:
            if not exc.maybe_executed:
                return REFUSED, None, f"not placed: {venue} unavailable ({exc.reason})"
            log.warning(
                "live: order %s: %s; the client could not find it by its client order id either: kept as "
                "unknown and looked up again at the next settle, never sent again",
                req.client_order_id,
                exc.reason,
            )
            return UNKNOWN, None, f"outcome unknown ({exc.reason}); to be looked up by client order id"
        except VenueError as exc:  # authentication, a malformed answer: it may or may not have been placed
            log.error("live: order %s: %s", req.client_order_id, exc)
            return UNKNOWN, None, f"outcome unknown ({exc.reason}); to be looked up by client order id"
        return OPEN, placed.order_id, ""

    # -- settling -------------------------------------------------------------------------------
    def _ask_venue(self, rec: dict[str, Any]) -> _Outcome:
        cid = rec["client_order_id"]
        out = _Outcome(cid)
        if rec["stage"] == REFUSED:
            out.stage = REFUSED
            return out
        try:
            order_id = rec.get("venue_order_id")
            found: VenueOrder | None = None
            if rec["stage"] in (SENDING, UNKNOWN):
                found = self.venue.find(rec["venue_symbol"], cid, since_ts=int(rec["sent_ts"]) - LOOKBACK_S)
                if found is None and self.clock() - rec["sent_ts"] < GRACE_S:
                    return out  # not there yet: the sender may still be on its way; ask again next time
                if found is None:
                    out.stage = REFUSED
                    out.note = f"{self.venue.name} holds no order {cid}: it was never placed, and is not sent again"
                    log.warning("live: %s", out.note)
                    return out
                out.venue_order_id = order_id = found.order_id
                log.info("live: reconciled order %s: %s holds it as %s", cid, self.venue.name, found.order_id)
            status = self.venue.order(rec["venue_symbol"], str(order_id))
            out.fills = self.venue.fills(rec["venue_symbol"], str(order_id)) if status.filled_size > 0 else []
            out.filled_size = status.filled_size
            if status.status.final:
                out.stage = DONE
                if status.status is not VenueOrderStatus.FILLED:
                    out.note = f"{self.venue.name}: {status.venue_status.lower() or status.status.value}" + (
                        f" after filling {status.filled_size:.8g}" if status.filled_size > 0 else ""
                    )
            else:
                out.stage = OPEN
        except VenueError as exc:
            log.warning("live: cannot learn about order %s now (%s); asking again next cycle", cid, exc.reason)
        return out

    def _apply(
        self,
        book: dict[str, Any],
        outcome: _Outcome,
        price: float,
        ts: int,
        fills: list[Fill],
        refused: list[Order],
    ) -> None:
        rec = dict(book["orders"][outcome.cid])
        if rec["stage"] not in WAITING:
            return  # settled already by someone else
        if outcome.venue_order_id:
            rec["venue_order_id"] = outcome.venue_order_id
        seen = set(rec["trades"]) | set(rec.get("flagged", []))
        base, _, quote = rec["symbol"].partition("-")
        side = Side(rec["side"])
        reference = rec.get("reference_price") or price
        for vf in outcome.fills:
            if vf.trade_id in seen:
                continue  # booked (or flagged) already: in an earlier answer, or listed twice in this one
            seen.add(vf.trade_id)
            wrong = check.judge_fill(vf, rec, reference, self.max_fill_gap)
            if wrong:
                rec["flagged"] = [*rec.get("flagged", []), vf.trade_id]
                rec["note"] = f"a venue fill was flagged and not booked ({wrong}): see `coinswarm status`"
                check.flag(book, outcome.cid, vf.trade_id, wrong, ts)
                continue
            quantity, fee, note = booked(vf, side, base, quote)
            fill = Fill(
                exit_reason=ExitReason.STOP_LOSS if rec.get("protective") else None,
                fill_id=f"{outcome.cid}/{vf.trade_id}",
                client_order_id=outcome.cid,
                symbol=rec["symbol"],
                side=side,
                quantity=quantity,
                price=vf.price,
                fee=fee,
                ts=ts,
                note=note,
            )
            self._book_fill(book, fill)
            signed = fill.quantity if side is Side.BUY else -fill.quantity
            cash = -(fill.notional + fill.fee) if side is Side.BUY else fill.notional - fill.fee
            check.note_booked(book, fill.fill_id, fill.symbol, signed, cash, self.clock())
            fills.append(fill)
            rec["trades"] = [*rec["trades"], vf.trade_id]
            rec["filled"] = rec["filled"] + vf.size
            rec["filled_value"] = rec.get("filled_value", 0.0) + vf.size * vf.price
        if outcome.stage is None:
            book["orders"][outcome.cid] = rec
            return
        rec["stage"] = outcome.stage
        if outcome.note:
            rec["note"] = outcome.note
        if outcome.stage == DONE:
            rec["status"] = OrderStatus.FILLED.value if rec["filled"] > 0 else OrderStatus.REJECTED.value
            if rec["filled"] == 0 and not rec.get("protective"):  # a stop cancelled unfilled is no refusal
                refused.append(_as_order(rec))
        elif outcome.stage == REFUSED:
            rec["stage"] = REJECTED  # reported now, once
            rec["status"] = OrderStatus.REJECTED.value
            if not rec.get("protective"):
                refused.append(_as_order(rec))
        book["orders"][outcome.cid] = rec

    @staticmethod
    def _book_fill(book: dict[str, Any], fill: Fill) -> None:
        """Book a fill's cash and holdings, and the position's entry (its cost, and the entry order whose
        id the protective stop's derives from)."""
        held = book["positions"].get(fill.symbol, 0.0)
        entries = dict(book.get("entries", {}))
        entry = entries.get(fill.symbol)
        if fill.side is Side.BUY:
            book["cash"] = book["cash"] - fill.notional - fill.fee
            book["positions"][fill.symbol] = held + fill.quantity
            cost = (float(entry["cost"]) if entry and held > 1e-12 else 0.0) + fill.notional
            attempts = entry["attempts"] if entry is not None and entry["cid"] == fill.client_order_id else 0
            entries[fill.symbol] = {"cid": fill.client_order_id, "cost": cost, "attempts": attempts}
        else:
            book["cash"] = book["cash"] + fill.notional - fill.fee
            left = held - fill.quantity
            book["positions"][fill.symbol] = 0.0 if left <= 1e-12 else left
            if entry is not None and left > 1e-12:
                entries[fill.symbol] = {**entry, "cost": float(entry["cost"]) * left / held}
            elif entry is not None:
                del entries[fill.symbol]
        book["entries"] = entries

    # -- the book against the ledger ------------------------------------------------------------------
    def _ledger_view(self, book: dict[str, Any]) -> check.LedgerView | None:
        """The ledger, read before the book is (re)read for a comparison; None without a ledger."""
        if self.ledger is None:
            return None
        return check.read_ledger(self.ledger(), int(book.get("ledger_seq", 0)))

    def _compare(self, book: dict[str, Any], view: check.LedgerView | None) -> None:
        if view is None:
            return
        problem = check.compare(book, view, self.clock())
        if problem and not book.get("halt"):
            log.error("live: the book and the ledger disagree: %s; new orders stop (%s)", problem, check.ACK_HELP)
            check.halt(book, f"the book and the ledger disagree: {problem}", int(self.clock()))

    def _halted(self) -> str:
        """Why no new order may go out now ('' when it may): a halt in the book, or the book and the
        ledger disagreeing now (which halts it)."""
        book = self._book()[0]
        if not book.get("halt") and self.ledger is not None:
            view = self._ledger_view(book)

            def change(book: dict[str, Any]) -> bool:
                self._compare(book, view)
                return True

            self._update(change)
            book = self._book()[0]
        why = check.halted(book)
        return f"refused: {why}; nothing sent" if why else ""

    # -- breaker ----------------------------------------------------------------------------------
    def _note_breaker(self) -> None:
        """Write the breaker's state for `coinswarm status` when it changed since last written."""
        state = self.venue.breaker.state()
        seen = (state.mode.value, state.consecutive_failures)
        if seen == self._breaker_seen:
            return
        self._breaker_seen = seen
        self.store.put(
            breaker_key(state.venue),
            {
                "venue": state.venue,
                "mode": state.mode.value,
                "consecutive_failures": state.consecutive_failures,
                "threshold": state.threshold,
                "reopens_in_s": round(state.reopens_in_s, 1),
                "last_error": state.last_error,
                "describe": state.describe(),
                "ts": int(self.clock()),
            },
        )

    # -- storage --------------------------------------------------------------------------------
    def _fresh(self) -> dict[str, Any]:
        return {
            "cash": self.starting_cash,
            "positions": {},
            "prices": {},
            "pending": [],
            "orders": {},
            "unlogged": {},
            "ledger_seq": 0,
            "halt": None,
            "anomalies": [],
            "stops": {},
            "entries": {},
            "unreported": [],
        }

    def _book(self) -> tuple[dict[str, Any], int]:
        return read_document(self.store, self.key, self._fresh)

    def _write_ahead(self, record: dict[str, Any]) -> bool:
        cid = record["client_order_id"]
        wrote: list[bool] = []

        def change(book: dict[str, Any]) -> bool:
            wrote.clear()
            if cid in book["orders"]:
                return False
            book["orders"] = {**book["orders"], cid: record}
            book["pending"] = [*book["pending"], cid]
            wrote.append(True)
            return True

        self._update(change)
        return bool(wrote)

    def _change_order(self, cid: str, *, follow: bool = True, **changes: Any) -> None:
        def change(book: dict[str, Any]) -> bool:
            rec = book["orders"][cid]
            update = dict(changes)
            if rec["stage"] not in (SENDING, UNKNOWN):
                log.error("live: order %s was settled as %s while it was being sent", cid, rec["stage"])
                update["note"] = f"{changes.get('note') or ''} (settled as {rec['stage']} meanwhile)".strip()
            book["orders"] = {**book["orders"], cid: {**rec, **update}}
            if follow and changes.get("stage") in WAITING and cid not in book["pending"]:
                book["pending"] = [*book["pending"], cid]  # followed to its fills, whatever a settle concluded
            return True

        self._update(change)

    def _update(self, change: Callable[[dict[str, Any]], bool]) -> None:
        update_document(self.store, self.key, self._fresh, change, retries=RETRIES, what="live book")

    @staticmethod
    def _trim(book: dict[str, Any]) -> None:
        if len(book["orders"]) > KEEP_ORDERS + 50:
            pending = set(book["pending"]) | set(book.get("stops", {}).values())
            done = [cid for cid in book["orders"] if cid not in pending]
            for cid in done[: len(book["orders"]) - KEEP_ORDERS]:
                del book["orders"][cid]


def _as_order(rec: dict[str, Any]) -> Order:
    return Order(
        client_order_id=rec["client_order_id"],
        symbol=rec["symbol"],
        side=rec["side"],
        notional=rec.get("notional"),
        quantity=rec.get("quantity"),
        fraction=rec.get("fraction"),
        placed_ts=rec["placed_ts"],
        status=OrderStatus.REJECTED if rec["stage"] in (REFUSED, REJECTED) else OrderStatus(rec["status"]),
        note=rec.get("note", ""),
    )


def _down(value: float, decimals: int) -> float:
    """`value` rounded down to `decimals` places (a venue refuses sizes finer than its increment)."""
    scale = 10.0**decimals
    return math.floor(value * scale + 1e-9) / scale


def booked(vf: VenueFill, side: Side, base: str, quote: str) -> tuple[float, float, str]:
    """A venue fill as the ledger books it: the quantity, the fee in the quote currency, and a note.

    A fee charged in the base asset of a buy (Binance's default without BNB) is kept out of what was
    bought: the quantity is what the account received, and the fee is valued at the fill's price, so
    cash still falls by exactly size x price. A fee in a third asset (BNB) cannot be valued here: it is
    left out of the ledger, and the note says so."""
    asset = vf.fee_asset.upper()
    if vf.fee == 0 or asset in ("", quote.upper()):
        return vf.size, vf.fee, ""
    if asset == base.upper():
        quantity = vf.size - vf.fee if side is Side.BUY and vf.fee < vf.size else vf.size
        return quantity, vf.fee * vf.price, ""
    return vf.size, 0.0, f"fee {vf.fee:.8g} {asset} paid outside the quote currency: not in the ledger"
