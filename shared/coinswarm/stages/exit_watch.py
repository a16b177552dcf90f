"""The exit rules (domain.exits) as order placement applies them in every cycle, paper or live, fused or
mesh, and in every backtest (which runs the same stages).

Each open position has its exit state in the hot-state store, `exits:<account>:<symbol>`: the tracker
(entry price, entry time, highest price, stop), the quantity it covers, the newest candle checked and
the exit order on its way, if any. Fills keep it: the first buy opens it (at the fill's price and its
candle's open time, with the fill's own fee rate), a further buy averages the entry, the sell that
leaves nothing closes it. A position held without one (bought before exits were configured, or its
state lost) is adopted at the ledger's average cost from the first candle seen.

Every candle from the entry candle on is checked once, in order: the cycle's own candle, and after a
pause (a cycle that did not run, a live cycle that took in several candles) the stored candles in
between. The exit order is placed by the cycle that found it (as of its decision time: a live venue
takes only current orders) and settled at once at the rule's price (domain.exits), as freqtrade's
backtesting assumes: the paper broker fills it there, as a stop resting at a venue would have filled
during the candle; a live venue fills the market order the cycle sends (the second line behind the stop
resting at the venue). While an exit order is still pending at the venue, no second one is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from coinswarm.domain.exit_ids import exit_order_id
from coinswarm.domain.exits import ExitRules, ExitSignal, ExitTracker
from coinswarm.domain.models import Candle, Fill, OrderIntent, OrderStatus, Side
from coinswarm.errors import ConflictError
from coinswarm.ports.broker import Broker
from coinswarm.ports.history import HistoryStore
from coinswarm.ports.state import StateStore

DUST = 1e-12
LEFT_OVER = 1e-3  # a sell that leaves less than this share of the position closed it (a venue rounds sizes down)
log = logging.getLogger(__name__)


def exits_key(account: str, symbol: str) -> str:
    return f"exits:{account}:{symbol}"


@dataclass(slots=True)
class OpenPosition:
    """One symbol's exit state during a placement call (written back once, at its end)."""

    tracker: ExitTracker
    quantity: float
    checked_ts: int | None = None  # the open time of the newest candle checked
    exit_order: str | None = None  # the client order id of the exit on its way

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracker": self.tracker.to_dict(),
            "quantity": self.quantity,
            "checked_ts": self.checked_ts,
            "exit_order": self.exit_order,
        }


@dataclass(slots=True)
class ExitSession:
    """A symbol's exit state through one placement call: read once at its start, written once at its end."""

    watch: ExitWatch
    symbol: str
    position: OpenPosition | None
    version: int
    changed: bool = False

    @property
    def open(self) -> bool:
        return self.position is not None

    def take(self, fills: Sequence[Fill]) -> None:
        """Keep the exit state with the fills just settled."""
        for fill in fills:
            self._take(fill)

    def due(self, candle: Candle) -> tuple[Candle, ExitSignal] | None:
        """Check every candle up to `candle` not checked yet; the first exit found, and its candle."""
        position = self.position
        if position is None:
            return None
        watch = self.watch
        start = position.tracker.entry_ts if position.checked_ts is None else position.checked_ts + watch.timeframe_s
        if candle.ts < start:
            return None  # checked already
        if candle.ts == start:
            bars: Sequence[Candle] = (candle,)
        else:
            bars = [c for c in watch.candles_between(self.symbol, start, candle.ts) if c.ts < candle.ts]
            bars.append(candle)
        self.changed = True
        tracker = position.tracker
        for bar in bars:
            signal = tracker.check(bar)  # checking a candle again gives the same answer (a retry does)
            if signal is not None:
                return bar, signal  # checked once its exit was tried (`tried`)
            position.checked_ts = bar.ts
        return None

    def tried(self, bar: Candle) -> None:
        """The exit found on `bar` was placed, refused or held back: the candle is checked."""
        if self.position is not None:
            self.position.checked_ts = bar.ts
            self.changed = True

    def still_held(self, broker: Broker) -> bool:
        """Whether the broker still holds the position (asked only when a rule fires); if not, it was closed
        outside the cycle (a stop filled at the venue and booked elsewhere) and its exit state goes."""
        if broker.account().positions.get(self.symbol, 0.0) > DUST:
            return True
        self.position, self.changed = None, True
        return False

    def exit_in_flight(self, broker: Broker) -> bool:
        """Whether the exit sent earlier is still waiting at the venue (then no second one is sent)."""
        position = self.position
        if position is None or position.exit_order is None:
            return False
        order = broker.get_order(position.exit_order)
        return order is not None and order.status is OrderStatus.PENDING

    def exit_intent(self, bar: Candle, signal: ExitSignal, *, decision_id: str | None) -> OrderIntent:
        """The exit of the whole position for `signal`, found on `bar` (its id names the bar's close)."""
        return OrderIntent(
            intent_id=exit_order_id(self.symbol, bar.close_ts, signal.reason),
            symbol=self.symbol,
            side=Side.SELL,
            fraction=1.0,
            reference_price=signal.price,
            ts=bar.close_ts,
            source="committee",
            decision_id=decision_id,
            exit_reason=signal.reason,
        )

    def sent(self, client_order_id: str) -> None:
        if self.position is not None:
            self.position.exit_order = client_order_id
            self.changed = True

    def finish(self) -> None:
        """Write the state back, if it changed (a concurrent writer's state stands: it saw as much)."""
        if not self.changed:
            return
        watch, key = self.watch, self.watch.key(self.symbol)
        try:
            if self.position is None:
                if self.version:
                    watch.state.delete(key)
            else:
                watch.state.put(key, self.position.to_dict(), expected_version=self.version)
        except ConflictError:
            pass
        self.changed = False

    def _take(self, fill: Fill) -> None:
        position = self.position
        if fill.side is Side.BUY:
            if position is None:
                fee_rate = fill.fee / fill.notional if fill.notional > 0 else 0.0
                tracker = self.watch.rules.open(fill.price, fill.ts, min(fee_rate, 0.5))
                self.position = OpenPosition(tracker, fill.quantity)
            else:
                position.tracker.add_entry(fill.price, position.quantity, fill.quantity)
                position.quantity += fill.quantity
            self.changed = True
            return
        if position is None:
            return
        before = position.quantity
        position.quantity -= fill.quantity
        if position.exit_order == fill.client_order_id:
            position.exit_order = None
        if position.quantity <= LEFT_OVER * before:
            self.position = None
        self.changed = True


class ExitWatch:
    """Builds each call's ExitSession. Inactive rules (no stop-loss, ROI, trailing or max hold) keep no
    state and check nothing."""

    def __init__(
        self,
        rules: ExitRules,
        state: StateStore,
        *,
        account: str,
        timeframe_s: int,
        fee_rate: float = 0.0,
        entry_price_of: Callable[[str], float | None] = lambda symbol: None,
    ) -> None:
        self.rules = rules
        self.state = state
        self.account = account
        self.timeframe_s = timeframe_s
        self.fee_rate = fee_rate
        self.entry_price_of = entry_price_of
        self._looked: set[str] = set()  # symbols whose holding was looked at for adoption in this process

    @property
    def active(self) -> bool:
        return self.rules.active

    def key(self, symbol: str) -> str:
        return exits_key(self.account, symbol)

    def begin(self, symbol: str, held_of: Callable[[], float], first: Candle | None, mark: float) -> ExitSession | None:
        """The symbol's exit state for one call (None when no rule is active): one read. `held_of` gives the
        quantity the broker holds, asked only when there is no state, once per process and symbol (to adopt
        a position held without one); `first`: the call's first candle, where such a position is adopted."""
        if not self.active:
            return None
        found = self.state.get(self.key(symbol))
        if found is not None:
            try:
                data = found.value
                tracker = ExitTracker.from_dict(self.rules, data["tracker"])
                position = OpenPosition(tracker, float(data["quantity"]), data["checked_ts"], data["exit_order"])
                return ExitSession(self, symbol, position, found.version)
            except (ValueError, KeyError, TypeError) as exc:  # unreadable: adopt the position afresh below
                log.warning("exit state of %s is unreadable (%s): the position is adopted afresh", symbol, exc)
                self._looked.discard(symbol)
        session = ExitSession(self, symbol, None, found.version if found is not None else 0, changed=found is not None)
        if symbol in self._looked or first is None:
            return session
        self._looked.add(symbol)  # from here on the state is kept by this process's fills
        held = held_of()
        if held > DUST:
            entry = self.entry_price_of(symbol) or mark
            if entry > 0:
                log.info("exits: %s %s held without exit state: adopted at %s", held, symbol, entry)
                session.position = OpenPosition(self.rules.open(entry, first.ts, self.fee_rate), held)
                session.changed = True
        return session

    def forget(self, symbol: str) -> None:
        """The position was closed outside a cycle (a flatten): its exit state goes."""
        self.state.delete(self.key(symbol))

    def candles_between(self, symbol: str, start_ts: int, until_ts: int) -> list[Candle]:
        """The stored candles that opened from `start_ts` to `until_ts`, oldest first."""
        wanted = (until_ts - start_ts) // self.timeframe_s + 1
        return [
            c
            for c in self.state.recent_candles(symbol, self.timeframe_s, wanted, until_ts=until_ts)
            if c.ts >= start_ts
        ]


def stored_exit_state(state: StateStore, account: str, symbol: str) -> dict[str, Any] | None:
    """A position's exit state as stored (for status): tracker fields, quantity, newest candle checked."""
    found = state.get(exits_key(account, symbol))
    return dict(found.value) if found else None


def ledger_average_cost(history: HistoryStore, stream: str) -> Callable[[str], float | None]:
    """`entry_price_of` from the ledger: the average cost of the position, as its projection holds it."""

    def average_cost(symbol: str) -> float | None:
        from coinswarm.stages.ledger import Ledger

        holding = Ledger(history, stream).portfolio().holdings.get(symbol)
        return holding.avg_cost if holding is not None and holding.avg_cost > 0 else None

    return average_cost
