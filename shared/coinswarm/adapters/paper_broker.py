"""The paper broker: a simulated venue account, the default broker.

Market orders fill at the first price observed after they were placed: the next candle's open in
candle-driven runs and backtests (the price the cycle sees next in live-data paper mode), moved
against the order by `slippage_bps`, with a fee of `fee_bps` on the notional. Balances never go
negative: a buy larger than the cash is reduced to what the cash pays for (fee included) or refused
when that is below the minimum order; a sell larger than the holding is reduced to it. Each fill or
refusal says which in its note.

The book (cash, holdings, last prices, pending and recent orders) is one document in the state store,
written with a version check, so concurrent invocations never lose an update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coinswarm.domain.models import ExitReason, Fill, Order, OrderStatus, Side
from coinswarm.domain.risk import AccountView
from coinswarm.errors import ConflictError
from coinswarm.ports.broker import Broker, Settlement
from coinswarm.ports.state import StateStore, Versioned, read_document, update_document

KEEP_ORDERS = 200  # recent orders kept for get_order and idempotent submit (plus every pending one)
TRIM_BATCH = 50
NOTHING = Settlement(fills=[], refused=[])
RETRIES = 20
PENDING = OrderStatus.PENDING
FILLED, REJECTED = OrderStatus.FILLED.value, OrderStatus.REJECTED.value  # as the book stores them
_SIDE = {side: side.value for side in Side}
_STATUS = {status: status.value for status in OrderStatus}
_ORDER_FIELDS = ("client_order_id", "symbol", "side", "notional", "quantity", "fraction", "placed_ts", "status", "note")


def order_document(order: Order) -> dict[str, Any]:
    """The order as the book stores it: `order.model_dump(mode="json")`, built directly (an order is stored
    on every submit). Falls back to model_dump should Order's fields ever differ from the ones known here."""
    if not _FAST_DUMP:
        return order.model_dump(mode="json")
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": _SIDE[order.side],
        "notional": order.notional,
        "quantity": order.quantity,
        "fraction": order.fraction,
        "placed_ts": order.placed_ts,
        "status": _STATUS[order.status],
        "note": order.note,
    }


_FAST_DUMP = tuple(Order.model_fields) == _ORDER_FIELDS


class PaperBroker(Broker):
    name = "paper"

    def __init__(
        self,
        store: StateStore,
        *,
        account: str = "paper",
        starting_cash: float = 10_000.0,
        fee_bps: float = 0.0,
        slippage_bps: float = 0.0,
        min_order_notional: float = 0.0,
    ) -> None:
        self.store = store
        self.key = f"paper:{account}:book"
        self.starting_cash = starting_cash
        self.fee_rate = fee_bps / 1e4
        self.slip_rate = slippage_bps / 1e4
        self.min_order_notional = min_order_notional
        # The orders this instance submitted, each beside the very dict it stored in the book: while the
        # book still holds that dict (an in-process store shares it), it is that order, not validated again.
        self._submitted: dict[str, tuple[dict[str, Any], Order]] = {}
        # The exit reason a sell fill is given from its order id, set by a broker in front of this one (the
        # backtest's, backtest.exits); None leaves it unset, for whoever reads the fill.
        self.sell_reason: Callable[[str], ExitReason | None] | None = None

    # -- port ---------------------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        cid = order.client_order_id
        store, key = self.store, self.key
        for _ in range(RETRIES):  # read, change, write back with a version check (as update_document)
            found = store.get(key)
            book = self._fresh() if found is None else dict(found.value)
            known = book["orders"].get(cid)
            if known is not None:
                return self._order(cid, known)
            accepted = order if order.status is PENDING else order.model_copy(update={"status": PENDING})
            stored = order_document(accepted)
            book["orders"] = {**book["orders"], cid: stored}
            book["pending"] = [*book["pending"], cid]
            self._trim(book)
            try:
                store.put(key, book, expected_version=0 if found is None else found.version)
            except ConflictError:
                continue
            if len(self._submitted) >= KEEP_ORDERS:  # orders another instance settled: forget them all
                self._submitted.clear()
            self._submitted[cid] = (stored, accepted)
            return accepted
        raise ConflictError(f"paper book {key}: {RETRIES} concurrent updates in a row; try again")

    def settle(self, symbol: str, observed_price: float, ts: int) -> Settlement:
        found = self.store.get(self.key)
        if found is not None and not found.value["pending"]:
            book = found.value
            if not book["positions"].get(symbol):
                return NOTHING  # nothing pending, nothing held: nothing to do (the common case, bar after bar)
            if book["prices"].get(symbol) == observed_price:
                return NOTHING
            try:  # only the price of a holding moves: one conditional write
                noted = {**book, "prices": {**book["prices"], symbol: observed_price}}
                self.store.put(self.key, noted, expected_version=found.version)
                return NOTHING
            except ConflictError:
                found = None  # someone else wrote the book meanwhile: take the general path below
        return self._settle(symbol, observed_price, ts, found)

    def _settle(self, symbol: str, observed_price: float, ts: int, found: Versioned | None) -> Settlement:
        """`settle` when orders are pending (`found`: the book as just read, or None to read it)."""
        store, key = self.store, self.key
        for _ in range(RETRIES):  # read, change, write back with a version check (as update_document)
            if found is None:
                found = store.get(key)
            book = self._fresh() if found is None else dict(found.value)
            version = 0 if found is None else found.version
            found = None  # a retry reads the book again
            orders = book["orders"]
            due: list[str] = []
            waiting = False  # orders of the symbol placed after `ts`: still pending after this settlement
            for cid in book["pending"]:
                stored = orders[cid]
                if stored["symbol"] == symbol:
                    if stored["placed_ts"] <= ts:
                        due.append(cid)
                    else:
                        waiting = True
            if not due and not book["positions"].get(symbol):
                # nothing held, nothing to fill: the price matters to no one (saves a write)
                return Settlement([], [], pending=waiting)
            if book["prices"].get(symbol) != observed_price:
                book["prices"] = {**book["prices"], symbol: observed_price}
            result = Settlement([], [], pending=waiting)
            if due:
                orders = book["orders"] = dict(orders)
                book["positions"] = dict(book["positions"])
                for cid in due:
                    self._execute(book, self._order(cid, orders[cid]), observed_price, ts, result)
                book["pending"] = [cid for cid in book["pending"] if cid not in due]
            try:
                store.put(key, book, expected_version=version)
            except ConflictError:
                continue
            submitted = self._submitted
            for cid in due:
                submitted.pop(cid, None)
            return result
        raise ConflictError(f"paper book {key}: {RETRIES} concurrent updates in a row; try again")

    def has_pending(self, symbol: str) -> bool:
        found = self.store.get(self.key)
        return found is not None and any(
            found.value["orders"][cid]["symbol"] == symbol for cid in found.value["pending"]
        )

    def pending(self, symbol: str | None = None) -> list[Order]:
        book = self._book()[0]
        orders = [Order.model_validate(book["orders"][cid]) for cid in book["pending"]]
        return [o for o in orders if symbol is None or o.symbol == symbol]

    def cancel(self, client_order_id: str) -> bool:
        """Withdraw a pending order. False when it is not pending (filled, refused or unknown)."""
        cancelled: list[bool] = []

        def change(book: dict[str, Any]) -> bool:
            cancelled.clear()
            if client_order_id not in book["pending"]:
                return False
            book["pending"] = [cid for cid in book["pending"] if cid != client_order_id]
            book["orders"] = {
                **book["orders"],
                client_order_id: {
                    **book["orders"][client_order_id],
                    "status": "cancelled",
                    "note": "cancelled",
                },
            }
            cancelled.append(True)
            return True

        self._update(change)
        return bool(cancelled)

    def get_order(self, client_order_id: str) -> Order | None:
        found = self.store.get(self.key)
        known = None if found is None else found.value["orders"].get(client_order_id)
        return None if known is None else self._order(client_order_id, known)

    def holding(self, symbol: str) -> tuple[float, float]:
        """Cash and the quantity of `symbol` held: one read, for valuing the account bar by bar."""
        found = self.store.get(self.key)
        if found is None:
            return self.starting_cash, 0.0
        return found.value["cash"], found.value["positions"].get(symbol, 0.0)

    def account(self) -> AccountView:
        found = self.store.get(self.key)
        book = self._fresh() if found is None else found.value
        return AccountView(book["cash"], dict(book["positions"]), dict(book["prices"]))

    # -- execution ------------------------------------------------------------------------------
    def _execute(self, book: dict[str, Any], order: Order, price: float, ts: int, out: Settlement) -> None:
        buy = order.side is Side.BUY
        if buy:
            fill_price = price * (1 + self.slip_rate)
            wanted = self._buy_quantity(order, book["cash"], fill_price)
            affordable = book["cash"] / (fill_price * (1 + self.fee_rate))
            qty, note = wanted, ""
            if wanted > affordable:
                qty = affordable
                note = f"reduced from {wanted:.8g} to {qty:.8g}: cash {book['cash']:,.2f} pays for no more"
        else:
            fill_price = price * (1 - self.slip_rate)
            held = book["positions"].get(order.symbol, 0.0)
            wanted = self._sell_quantity(order, held, fill_price)
            qty, note = wanted, ""
            if wanted > held:
                qty = held
                note = f"reduced from {wanted:.8g} to the {held:.8g} held"
        notional = qty * fill_price
        closes_position = order.side is Side.SELL and qty > 0 and qty == book["positions"].get(order.symbol, 0.0)
        if qty <= 0.0 or (notional < self.min_order_notional and not closes_position):
            why = "nothing held" if order.side is Side.SELL and qty <= 0 else "not enough cash"
            refusal = f"refused: {why}; {notional:,.2f} is below the minimum order {self.min_order_notional:,.2f}"
            book["orders"][order.client_order_id] = {
                **book["orders"][order.client_order_id],
                "status": REJECTED,
                "note": refusal,
            }
            out.refused.append(order.model_copy(update={"status": OrderStatus.REJECTED, "note": refusal}))
            return
        fee = notional * self.fee_rate
        if buy:
            book["cash"] = max(0.0, book["cash"] - notional - fee)
            book["positions"][order.symbol] = book["positions"].get(order.symbol, 0.0) + qty
        else:
            book["cash"] = book["cash"] + notional - fee
            left = book["positions"].get(order.symbol, 0.0) - qty
            book["positions"][order.symbol] = 0.0 if left <= 1e-12 else left
        book["orders"][order.client_order_id] = {
            **book["orders"][order.client_order_id],
            "status": FILLED,
            "note": note,
        }
        out.fills.append(
            Fill(
                fill_id=f"{order.client_order_id}/1",
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                side=order.side,
                quantity=qty,
                price=fill_price,
                fee=fee,
                ts=ts,
                note=note,
                exit_reason=None if buy or self.sell_reason is None else self.sell_reason(order.client_order_id),
            )
        )

    def _buy_quantity(self, order: Order, cash: float, price: float) -> float:
        if order.quantity is not None:
            return order.quantity
        if order.notional is not None:
            return order.notional / price
        return cash * (order.fraction or 0.0) / (price * (1 + self.fee_rate))

    @staticmethod
    def _sell_quantity(order: Order, held: float, price: float) -> float:
        if order.quantity is not None:
            return order.quantity
        if order.notional is not None:
            return order.notional / price
        fraction = order.fraction or 0.0
        return held if fraction >= 1.0 else held * fraction

    # -- storage --------------------------------------------------------------------------------
    def _fresh(self) -> dict[str, Any]:
        return {"cash": self.starting_cash, "positions": {}, "prices": {}, "pending": [], "orders": {}}

    def _book(self) -> tuple[dict[str, Any], int]:
        return read_document(self.store, self.key, self._fresh)

    def _update(self, change: Callable[[dict[str, Any]], bool]) -> None:
        update_document(self.store, self.key, self._fresh, change, retries=RETRIES, what="paper book")

    def _order(self, client_order_id: str, stored: dict[str, Any]) -> Order:
        """The order the book holds as `stored`."""
        mine = self._submitted.get(client_order_id)
        if mine is not None and mine[0] is stored:
            return mine[1]
        return Order.model_validate(stored)

    @staticmethod
    def _trim(book: dict[str, Any]) -> None:
        """Forget the oldest settled orders, a batch at a time, once more than KEEP_ORDERS are held."""
        if len(book["orders"]) > KEEP_ORDERS + TRIM_BATCH:
            pending = set(book["pending"])
            done = [cid for cid in book["orders"] if cid not in pending]
            for cid in done[: len(book["orders"]) - KEEP_ORDERS]:
                del book["orders"][cid]
