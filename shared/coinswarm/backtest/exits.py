"""The exit rules in a backtest: a broker in front of the paper broker that watches the open position.

Order placement settles at every bar's open while a position is open (this broker says it has something
pending then), so each bar of the position passes here once, in order: first the orders due at the open
fill (an entry, a signal exit), then the exit rules read the bar (domain.exits: open, high, low, close)
and, when one fires, the whole position is sold at its price (with the paper broker's slippage and fee)
within the same bar. Every sell fill carries its reason: `signal` for the committee's (or sma-cross's)
SELL (the order id a sell decision has, `...-s`), the rule's for the rest, `end_of_backtest` for the close
at the end. A sell placed by anyone else (an exit order that order placement itself sends) passes through
untouched, its reason left to whoever sent it.

With nothing held the paper broker is called exactly as without exits. While a position is open and
nothing is due, the bar's open is only remembered, and shown to the paper broker when the account is
read (a risk check) or an order settles, so the book's price is the one it would have been.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.domain.exits import ExitRules, ExitTracker
from coinswarm.domain.models import Candle, ExitReason, Fill, Order, OrderStatus, Side
from coinswarm.domain.risk import AccountView
from coinswarm.ports.broker import Broker, Settlement
from coinswarm.stages.messages import DecidedStep

DUST = 1e-12  # a holding below this many units is none (as the paper broker counts it)
SIGNAL_SUFFIX = "-" + Side.SELL.value[0]  # domain.sizing.client_order_id of a SELL decision
NOTHING = Settlement()  # what most settlements come to (read only, as every settlement is)
WATCHING = Settlement(pending=True)


def is_signal(client_order_id: str) -> bool:
    """Whether the order is the committee's (or sma-cross's) SELL, by its id."""
    return client_order_id.endswith(SIGNAL_SUFFIX)


@dataclass
class _Position:
    """One symbol's side of the broker: its bars, its holding and its exit tracker."""

    candles: Sequence[Candle]
    tracker: ExitTracker | None = None
    held: float = 0.0
    cursor: int = 0
    checked_ts: int = -1  # the newest bar the rules read: each bar once, however often it is settled
    due: bool = False  # the paper broker holds this symbol's orders not yet filled
    unshown: tuple[float, int] | None = None  # a price not yet shown to the paper broker

    def candle_at(self, ts: int) -> Candle | None:
        """The bar that opened at `ts` (bars are asked for in order, so a cursor finds it)."""
        candles, i = self.candles, self.cursor
        n = len(candles)
        while i < n and candles[i].ts < ts:
            i += 1
        self.cursor = i
        if i < n:
            candle = candles[i]
            if candle.ts == ts:
                return candle
        return None


class ExitingBroker(Broker):
    """The paper broker of a backtest, with `rules` applied to each bar held of each symbol's `series`
    (one symbol: a sequence of its candles; several: symbol -> candles)."""

    name = "paper"
    applies_exit_rules = True  # order placement leaves the rules to this broker (stages.exit_watch)

    def __init__(
        self,
        inner: PaperBroker,
        series: Sequence[Candle] | Mapping[str, Sequence[Candle]],
        rules: ExitRules,
        *,
        exit_on_signal: bool = True,
    ) -> None:
        self.inner = inner
        if not isinstance(series, Mapping):
            series = {series[0].symbol: series} if len(series) else {}
        self.positions = {symbol: _Position(candles) for symbol, candles in series.items()}
        self.rules = rules
        self.exit_on_signal = exit_on_signal

    def _at(self, symbol: str) -> _Position:
        p = self.positions.get(symbol)
        if p is None:
            raise KeyError(f"the backtest broker has no candles of {symbol}")
        return p

    # -- port --------------------------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        if order.side is Side.SELL and not self.exit_on_signal and is_signal(order.client_order_id):
            note = "not sent: exits.exit_on_signal is off, so a SELL vote does not exit"
            return order.model_copy(update={"status": OrderStatus.CANCELLED, "note": note})
        self._show_all()
        placed = self.inner.submit(order)
        p = self._at(order.symbol)
        p.due = p.due or placed.status is OrderStatus.PENDING
        return placed

    def settle(self, symbol: str, observed_price: float, ts: int) -> Settlement:
        p = self.positions.get(symbol) or self._at(symbol)
        tracker = p.tracker
        if tracker is not None and not p.due:  # a position held, nothing due: most bars of a position
            p.unshown = (observed_price, ts)
            if ts <= p.checked_ts:
                return WATCHING
            p.checked_ts = ts
            candle = p.candle_at(ts)
            signal = tracker.check(candle) if candle is not None else None
            if signal is None:
                return WATCHING
            fills = self.exit_now(symbol, signal.price, ts, signal.reason)
            return Settlement(fills, [], pending=p.due or p.tracker is not None) if fills else WATCHING
        p.unshown = None
        done = self.inner.settle(symbol, observed_price, ts)
        p.due = done.pending
        fills = self._noted(p, done.fills, ExitReason.SIGNAL) if done.fills else []
        tracker = p.tracker
        if tracker is not None and ts > p.checked_ts:
            p.checked_ts = ts
            candle = p.candle_at(ts)
            if candle is not None:
                signal = tracker.check(candle)
                if signal is not None:
                    fills.extend(self.exit_now(symbol, signal.price, ts, signal.reason))
        if not (fills or done.refused):
            return WATCHING if p.due or p.tracker is not None else NOTHING  # most bars: nothing filled
        return Settlement(fills, list(done.refused), pending=p.due or p.tracker is not None)

    def quiet_run(self, symbol: str, steps: Sequence[DecidedStep], start: int, end: int | None = None) -> int:
        """How far settling `symbol` at the points `steps[start:]` would only watch its position: the index
        of the first point that carries an intent, or at which an exit rule fires (`start` when the symbol
        holds nothing or has an order due: every point may then do more). The points before it are checked
        by the rules here, as settling them would have (checking the firing bar read it too, but a rule reads
        a bar again the same way), so that settling them later only notes their price (`watched`). `end`:
        where to stop looking (by default the last point); returned when every point before it is quiet."""
        p = self.positions.get(symbol) or self._at(symbol)
        tracker = p.tracker
        if tracker is None or p.due:
            return start
        check, candle_at = tracker.check, p.candle_at
        stop = len(steps) if end is None else end
        for i in range(start, stop):
            point = steps[i]
            if point.intent is not None:
                return i
            ts = point.settle_ts
            if ts > p.checked_ts:
                candle = candle_at(ts)
                if candle is not None and check(candle) is not None:
                    return i
                p.checked_ts = ts
        return stop

    def watched(self, symbol: str, steps: Sequence[DecidedStep], start: int, end: int) -> None:
        """Settle the points `steps[start:end]`, which `quiet_run` found quiet: all that is left of them is
        the newest price, to show the book when someone reads the account."""
        point = steps[end - 1]
        self.positions[symbol].unshown = (point.settle_price, point.settle_ts)

    def has_pending(self, symbol: str) -> bool:
        return self._at(symbol).tracker is not None or self.inner.has_pending(symbol)

    def account(self) -> AccountView:
        self._show_all()
        return self.inner.account()

    def get_order(self, client_order_id: str) -> Order | None:
        return self.inner.get_order(client_order_id)

    # -- what the engine asks ------------------------------------------------------------------------
    def pending(self, symbol: str) -> list[Order]:
        return self.inner.pending(symbol)

    def cancel(self, client_order_id: str) -> bool:
        order = self.inner.get_order(client_order_id)
        cancelled = self.inner.cancel(client_order_id)
        if cancelled and order is not None and order.symbol in self.positions:
            self.positions[order.symbol].due = self.inner.has_pending(order.symbol)
        return cancelled

    def flat(self, symbol: str) -> bool:
        """Nothing held and nothing pending: the symbol's next bars can fill nothing."""
        p = self._at(symbol)
        return p.held <= 0.0 and not p.due  # `due` follows the paper broker's book (every order passes here)

    def held(self, symbol: str | None = None) -> float:
        if symbol is None:
            (symbol,) = self.positions
        return self._at(symbol).held

    def exit_now(self, symbol: str, price: float, ts: int, reason: ExitReason) -> list[Fill]:
        """Sell the whole position at `price` (before slippage and fee), for `reason`; its fill (none when
        nothing is held)."""
        p = self._at(symbol)
        if p.held <= 0.0:
            return []
        self._show_all()
        suffix = "end" if reason is ExitReason.END_OF_BACKTEST else "x"
        cid = f"cs-{symbol}-{ts}-{suffix}"
        self.inner.submit(Order(client_order_id=cid, symbol=symbol, side=Side.SELL, fraction=1.0, placed_ts=ts))
        done = self.inner.settle(symbol, price, ts)
        p.due = done.pending
        return self._noted(p, done.fills, reason)

    # -- inside --------------------------------------------------------------------------------------
    def _noted(self, p: _Position, fills: list[Fill], sell_reason: ExitReason) -> list[Fill]:
        """Follow the position through `fills`, starting, averaging or ending its exit tracker; the sells
        come back with `sell_reason` (a SIGNAL only for a sell decision's order: see is_signal)."""
        out: list[Fill] = []
        for fill in fills:
            if fill.side is Side.BUY:
                if p.held <= 0.0:
                    active = self.rules.active
                    p.tracker = self.rules.open(fill.price, fill.ts, self.inner.fee_rate) if active else None
                elif p.tracker is not None:
                    p.tracker.add_entry(fill.price, p.held, fill.quantity)
                p.held += fill.quantity
                out.append(fill)
                continue
            p.held -= fill.quantity
            if p.held <= DUST:
                p.held, p.tracker = 0.0, None
            if fill.exit_reason is not None or (
                sell_reason is ExitReason.SIGNAL and not is_signal(fill.client_order_id)
            ):
                out.append(fill)
                continue
            out.append(fill.model_copy(update={"exit_reason": sell_reason}))
        return out

    def _show_all(self) -> None:
        """Show the paper broker every price it has not seen yet, so the book values each holding as it
        would have been (an account read, an order, another symbol's settle)."""
        for symbol, p in self.positions.items():
            if p.unshown is not None:
                price, ts = p.unshown
                p.unshown = None
                self.inner.settle(symbol, price, ts)
