"""Protective stops resting at the venue, so that a live position stays protected while no function runs.

Right after an entry fills (at the settle that books it), the live broker places a stop-limit sell for
the whole position at the venue: Coinbase Advanced Trade's `stop_limit_stop_limit_gtc` with
`STOP_DIRECTION_STOP_DOWN`, Binance's `STOP_LOSS_LIMIT` (GTC). Its stop price is the position's average
entry price less `exits.stop_loss_pct`; its limit price lies `live.stop_limit_offset_pct` below the stop
(a stop-limit sells at the limit or better: the offset is how far a fast fall may go through the stop
and still fill; a gap below the limit leaves it resting, unfilled: see docs/going-live.md).

Exactly once, like every order: the stop's client order id derives from the entry's (`<entry>-sl<n>`, n
counting the attempts for that entry) and is written to the book (`stops`, `orders`) before it is sent;
an unknown outcome is looked up by that id (as for any order) at the next settle, never sent again.

Every settle of the symbol reconciles the stop: a stop the venue filled (while no cycle ran, say) is
booked as a sell with exit reason `stop_loss` and handed to the ledger like any fill; a stop that is
gone (cancelled, expired, refused) is replaced; a position whose size changed (another entry) gets its
stop replaced (cancel, then place: never two resting); a crash between the entry's fill and the stop's
placement leaves a position without a stop, which the next settle protects. When the position exits
any other way (a signal's sell), its resting stop is cancelled first; when that cannot be done (the
venue cannot say), the sell waits for the next cycle rather than risk selling twice.

Trailing (`exits.trailing_stop_pct`, as freqtrade's `trailing_stop_positive`): the broker keeps the highest
price it has observed since the entry; once that high is `exits.trailing_offset_pct` above the entry, the
stop trails `trailing_stop_pct` below it; before that it trails `stop_loss_pct` below it, or (with
`trailing_only_offset_reached`) stays where the entry put it. A stop only moves up, and only by more than
`MIN_MOVE` (each move is a cancel and a new order): cancelled first, then placed, so never two rest.

A halted book (live_book_check) or the kill switch places no new stop; a resting one stays at the venue.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import TYPE_CHECKING, Any

from coinswarm.domain.models import Fill, OrderStatus, Side
from coinswarm.errors import VenueError
from coinswarm.stages.placement import kill_switch_on
from coinswarm.venues.models import OrderRequest

if TYPE_CHECKING:
    from coinswarm.adapters.live_broker import LiveBroker

log = logging.getLogger("coinswarm.live")
SENDING, UNKNOWN, OPEN, REFUSED = "sending", "unknown", "open", "refused"
LIVE = (SENDING, UNKNOWN, OPEN)
MAX_CID = 36  # Binance's newClientOrderId: [.A-Z:/a-z0-9_-]{1,36}
MIN_MOVE = 0.002  # a trailing stop moves when it would rise by more than this share of its price


def stop_cid(entry_cid: str, attempt: int) -> str:
    """The stop's client order id, derived from its entry's (the same entry and attempt: the same id)."""
    cid = f"{entry_cid}-sl{attempt}"
    if len(cid) <= MAX_CID:
        return cid
    digest = hashlib.sha256(entry_cid.encode()).hexdigest()[:24]
    return f"sl-{digest}-{attempt}"


def _price_down(value: float, decimals: int) -> float:
    scale = 10.0**decimals
    return math.floor(value * scale) / scale


class ProtectiveStops:
    def __init__(
        self,
        broker: LiveBroker,
        *,
        stop_loss_pct: float | None,
        limit_offset_pct: float,
        trailing_stop_pct: float | None = None,
        trailing_offset_pct: float = 0.0,
        trailing_only_offset_reached: bool = False,
    ) -> None:
        self.broker = broker
        self.stop_loss = None if stop_loss_pct is None else stop_loss_pct / 100
        self.limit_offset = limit_offset_pct / 100
        self.trailing = None if trailing_stop_pct is None else trailing_stop_pct / 100
        self.trailing_offset = trailing_offset_pct / 100
        self.only_offset = trailing_only_offset_reached

    # -- every settle ---------------------------------------------------------------------------
    def reconcile(self, symbol: str, price: float, ts: int) -> list[Fill]:
        """Follow the symbol's resting stop at the venue, book what it filled, and protect the position.

        Never raises: the settle that calls it has booked fills already, which must reach the ledger; a
        stop that could not be followed or placed now is tried again at the next settle."""
        fills: list[Fill] = []
        try:
            fills += self._follow(symbol, price, ts)
            fills += self._protect(symbol, price, ts)
        except Exception:
            log.exception("live: the protective stop of %s could not be followed or placed; tried again later", symbol)
        return fills + self.take_unreported()

    def take_unreported(self) -> list[Fill]:
        """Fills of a stop booked while an exit cancelled it (in `submit`): reported by the next settle."""
        b = self.broker
        if not b._book()[0].get("unreported"):
            return []
        taken: list[Fill] = []

        def change(book: dict[str, Any]) -> bool:
            taken[:] = [Fill.model_validate(f) for f in book.get("unreported", [])]
            book["unreported"] = []
            return bool(taken)

        b._update(change)
        return taken

    def _follow(self, symbol: str, price: float, ts: int, *, keep: list[Fill] | None = None) -> list[Fill]:
        b = self.broker
        book = b._book()[0]
        cid = book.get("stops", {}).get(symbol)
        if cid is None:
            return []
        rec = book["orders"].get(cid)
        if rec is None or rec["stage"] not in LIVE:
            self._forget(symbol, cid)
            return []
        outcome = b._ask_venue(rec)
        b._note_breaker()
        view = b._ledger_view(book)
        fills: list[Fill] = []

        def change(book: dict[str, Any]) -> bool:
            fills.clear()
            book["orders"] = dict(book["orders"])
            book["positions"] = dict(book["positions"])
            b._apply(book, outcome, price, ts, fills, [])
            b._compare(book, view)
            if book["orders"][cid]["stage"] not in LIVE and book.get("stops", {}).get(symbol) == cid:
                book["stops"] = {k: v for k, v in book["stops"].items() if k != symbol}
            if keep is not None and fills:  # booked outside a settle: reported by the next one
                book["unreported"] = [*book.get("unreported", []), *(f.model_dump(mode="json") for f in fills)]
            return True

        b._update(change)
        for f in fills:
            log.warning("live: the resting stop %s filled %.8g %s at %.8g", cid, f.quantity, symbol, f.price)
        return [] if keep is not None else fills

    def _forget(self, symbol: str, cid: str) -> None:
        def change(book: dict[str, Any]) -> bool:
            if book.get("stops", {}).get(symbol) != cid:
                return False
            book["stops"] = {k: v for k, v in book["stops"].items() if k != symbol}
            return True

        self.broker._update(change)

    def _protect(self, symbol: str, price: float, ts: int) -> list[Fill]:
        """Place (or resize) the stop of the symbol's position."""
        b = self.broker
        if self.stop_loss is None:
            return []
        book = b._book()[0]
        if book.get("halt") or kill_switch_on(b.store):
            return []  # no new order at all; a stop resting already stays
        q = b.venue.quirks
        held = _down(book["positions"].get(symbol, 0.0), q.base_decimals)
        entry = _entry(book, symbol)
        cid = book.get("stops", {}).get(symbol)
        rec = book["orders"].get(cid) if cid else None
        if held <= 0 and rec is not None and rec["stage"] in LIVE:  # a stop with nothing left to protect
            why = self.cancel(symbol)  # (an exit cancels it first; this is the book rebased under it)
            if why:
                log.warning("live: the stop of %s protects nothing held and cannot be cancelled now: %s", symbol, why)
            return []
        if held <= 0 or entry is None or held * price < b.min_order_notional:
            return []  # nothing (worth) protecting
        if self.trailing is not None and price > float(entry.get("high") or 0.0):
            entry = self._note_high(symbol, entry, price)
        stop_price, limit_price = self._prices(entry, float(book["positions"][symbol]), q.quote_decimals)
        live = rec is not None and rec["stage"] in LIVE
        if price <= stop_price:  # a stop resting (triggered, perhaps) stays as it is
            if live:
                return []
            log.warning(
                "live: %s is at %.8g, at or below its stop %.8g already: no stop placed or moved (it would trigger "
                "at once); the exit rules decide",
                symbol,
                price,
                stop_price,
            )
            return []
        if live:
            assert rec is not None
            left = float(rec["base_size"]) - float(rec["filled"])
            same_size = abs(left - held) <= 1.01 * 10.0**-q.base_decimals
            if same_size and stop_price <= float(rec["stop_price"]) * (1 + MIN_MOVE):
                return []  # protected as it is (a stop partly filled protects what it has left)
            if rec["filled"] > 0 and same_size:
                return []  # triggered and partly filled: left to fill, not moved
            why = self.cancel(symbol)  # the position changed size, or the stop trails up: cancel, then place
            if why:
                log.warning("live: the stop of %s cannot be resized now: %s", symbol, why)
                return []
            book = b._book()[0]
            held = _down(book["positions"].get(symbol, 0.0), q.base_decimals)
            entry = _entry(book, symbol)
            if held <= 0 or entry is None:
                return []
            stop_price, limit_price = self._prices(entry, float(book["positions"][symbol]), q.quote_decimals)
        if stop_price <= 0 or limit_price <= 0:
            return []
        self._place(symbol, entry, held, stop_price, limit_price, ts)
        return []

    def _prices(self, entry: dict[str, Any], held: float, quote_decimals: int) -> tuple[float, float]:
        """The stop and limit prices of a position of `held` whose entry cost `entry["cost"]` (and whose
        highest observed price is `entry["high"]`, when trailing)."""
        assert self.stop_loss is not None
        average = float(entry["cost"]) / held
        stop = average * (1 - self.stop_loss)
        high = float(entry.get("high") or 0.0)
        if self.trailing is not None and high > 0:
            if high >= average * (1 + self.trailing_offset) and high > average:
                stop = max(stop, high * (1 - self.trailing))
            elif not self.only_offset:
                stop = max(stop, high * (1 - self.stop_loss))
        decimals = quote_decimals if average >= 1 else 8
        stop_price = _price_down(stop, decimals)
        return stop_price, _price_down(stop_price * (1 - self.limit_offset), decimals)

    def _note_high(self, symbol: str, entry: dict[str, Any], price: float) -> dict[str, Any]:
        """Keep the highest price observed since the entry (the trailing stop follows it)."""
        noted = {**entry, "high": price}

        def change(book: dict[str, Any]) -> bool:
            current = book.get("entries", {}).get(symbol) or entry
            if current["cid"] != entry["cid"] or float(current.get("high") or 0.0) >= price:
                return False
            book["entries"] = {**book.get("entries", {}), symbol: {**current, "high": price}}
            return True

        self.broker._update(change)
        return noted

    def _place(
        self, symbol: str, known: dict[str, Any], size: float, stop_price: float, limit_price: float, ts: int
    ) -> None:
        b = self.broker
        q = b.venue.quirks
        wrote: list[dict[str, Any]] = []

        def change(book: dict[str, Any]) -> bool:
            wrote.clear()
            entry = dict(book.get("entries", {}).get(symbol) or known)
            attempt = int(entry.get("attempts", 0)) + 1
            cid = stop_cid(entry["cid"], attempt)
            if cid in book["orders"]:
                return False
            record = {
                "client_order_id": cid,
                "symbol": symbol,
                "side": Side.SELL.value,
                "notional": None,
                "quantity": size,
                "fraction": None,
                "placed_ts": ts,
                "status": OrderStatus.PENDING.value,
                "stage": SENDING,
                "note": f"protective stop of entry {entry['cid']}: stop {stop_price:.8g}, limit {limit_price:.8g}",
                "venue": b.venue.name,
                "venue_symbol": q.venue_symbol(symbol),
                "venue_order_id": None,
                "sent_ts": int(b.clock()),
                "trades": [],
                "filled": 0.0,
                "filled_value": 0.0,
                "base_size": size,
                "quote_size": None,
                "reference_price": limit_price,
                "protective": True,
                "stop_price": stop_price,
                "limit_price": limit_price,
                "entry": entry["cid"],
            }
            book["orders"] = {**book["orders"], cid: record}
            book["stops"] = {**book.get("stops", {}), symbol: cid}
            book["entries"] = {**book.get("entries", {}), symbol: {**entry, "attempts": attempt}}
            wrote.append(record)
            return True

        b._update(change)  # written before it is sent
        if not wrote:
            return
        record = wrote[0]
        cid = record["client_order_id"]
        req = OrderRequest(
            cid, record["venue_symbol"], Side.SELL, "stop_limit", base_size=size, limit_price=limit_price,
            stop_price=stop_price,
        )  # fmt: skip
        stage, venue_order_id, note = b._place(req)
        b._note_breaker()
        if stage == REFUSED:
            log.warning(
                "live: the protective stop %s of %s was not placed: %s; tried again next cycle", cid, symbol, note
            )
            b._change_order(cid, follow=False, stage="rejected", status=OrderStatus.REJECTED.value, note=note)
            self._forget(symbol, cid)
            return
        log.info("live: protective stop %s placed for %.8g %s at stop %.8g", cid, size, symbol, stop_price)
        b._change_order(cid, follow=False, stage=stage, venue_order_id=venue_order_id, note=record["note"])

    # -- before another exit ----------------------------------------------------------------------
    def cancel(self, symbol: str) -> str:
        """Cancel the symbol's resting stop before the position exits another way, booking what it filled
        meanwhile (reported by the next settle). '' when no stop rests any more; else why it may."""
        b = self.broker
        book = b._book()[0]
        cid = book.get("stops", {}).get(symbol)
        rec = book["orders"].get(cid) if cid else None
        if cid is None or rec is None or rec["stage"] not in LIVE:
            return ""
        price = float(book["prices"].get(symbol) or rec["reference_price"])
        now = int(b.clock())
        if rec["stage"] in (SENDING, UNKNOWN):  # placed or not? ask first
            self._follow(symbol, price, now, keep=[])
            rec = b._book()[0]["orders"][cid]
            if rec["stage"] in (SENDING, UNKNOWN):
                return f"whether the protective stop {cid} rests at {b.venue.name} is not known yet"
            if rec["stage"] not in LIVE:
                return ""
        try:
            b.venue.cancel(rec["venue_symbol"], str(rec["venue_order_id"]))
        except VenueError as exc:
            return f"the protective stop {cid} could not be cancelled first ({exc.reason})"
        self._follow(symbol, price, now, keep=[])  # its final state and any fills
        rec = b._book()[0]["orders"][cid]
        if rec["stage"] in LIVE:
            return f"the protective stop {cid} is still being cancelled at {b.venue.name}"
        log.info("live: protective stop %s cancelled before the exit of %s", cid, symbol)
        return ""

    # -- for status -------------------------------------------------------------------------------
    @staticmethod
    def resting(book: dict[str, Any]) -> list[dict[str, Any]]:
        return [book["orders"][cid] for cid in book.get("stops", {}).values() if cid in book["orders"]]


def _entry(book: dict[str, Any], symbol: str) -> dict[str, Any] | None:
    """The position's entry: as booked (its order's id, the position's cost), or, for a position booked
    before entries were kept (or rebased by `coinswarm live ack`), its newest filled buy, at that price."""
    entry = book.get("entries", {}).get(symbol)
    if entry is not None:
        return dict(entry)
    held = float(book["positions"].get(symbol, 0.0))
    buys = [
        o
        for o in book["orders"].values()
        if o["symbol"] == symbol and o["side"] == Side.BUY.value and o.get("filled", 0) > 0 and o.get("filled_value")
    ]
    if held <= 0 or not buys:
        return None
    newest = max(buys, key=lambda o: o["placed_ts"])
    return {"cid": newest["client_order_id"], "cost": held * newest["filled_value"] / newest["filled"], "attempts": 0}


def _down(value: float, decimals: int) -> float:
    scale = 10.0**decimals
    return math.floor(value * scale + 1e-9) / scale
