"""order_placement: settle earlier orders at the price observed now, then put the new intent through
risk and place it exactly once (an idempotency record per intent id; the id is also the venue's
client order id).

Before risk, a committee decision the position makes moot is a hold (a SELL with nothing held, a BUY
at the position's limit, a SELL while exits.exit_on_signal is off): no order, no refusal, a note. A new
entry also meets the owner's pause and the protections (stages.controls, stages.protection_watch);
an exit meets neither (see domain.risk)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from coinswarm.domain.exit_ids import with_exit_reason
from coinswarm.domain.models import Fill, Order, OrderIntent, RiskRejection, Side
from coinswarm.domain.protections import ProtectionRules
from coinswarm.domain.risk import (
    DAY_S,
    AccountView,
    RiskDay,
    RiskLimits,
    RiskVerdict,
    check_order,
    moot_decision,
    roll_day,
)
from coinswarm.errors import ClaimInProgressError, ConflictError
from coinswarm.ports.broker import Broker
from coinswarm.ports.clock import Clock
from coinswarm.ports.coordination import CoordinationStore, IdempotencyStatus
from coinswarm.ports.history import HistoryStore
from coinswarm.ports.state import StateStore
from coinswarm.stages.controls import paused_reason
from coinswarm.stages.exit_watch import ExitSession, ExitWatch
from coinswarm.stages.messages import PLACEMENTS, DecidedStep, DecisionReady, Message, PlacementDone
from coinswarm.stages.outbox import IN_PROGRESS_TTL_S as IN_PROGRESS_TTL_S  # re-exported: main's live tests
from coinswarm.stages.outbox import Outbox
from coinswarm.stages.protection_watch import ProtectionWatch

KILL_SWITCH_KEY = "flags:kill_switch"
DONE_TTL_S = 7 * 86_400
RETRIES = 20


@dataclass(frozen=True, slots=True)
class Placed:
    """What placing one intent came to: an order, or a risk rejection, and a note (a reduction, say)."""

    order: Order | None
    rejection: RiskRejection | None
    note: str = ""
    duplicate: bool = False


class PlacementStage:
    def __init__(
        self,
        broker: Broker,
        state: StateStore,
        history: HistoryStore,
        coordination: CoordinationStore,
        clock: Clock,
        limits: RiskLimits,
        *,
        account: str,
        trade_lease_s: int = 30,
        outbox: Outbox | None = None,
        protections: ProtectionRules | None = None,
        exit_on_signal: bool = True,
        exits: ExitWatch | None = None,
    ) -> None:
        """`outbox`: where the PlacementDone of each message is kept (by default with a claim in
        `coordination`); `NO_OUTBOX` for wiring that delivers each message once (fused, a backtest).
        `protections`: the pauses of new entries after losses (none by default); `exit_on_signal`:
        whether a committee SELL exits (exits.exit_on_signal); `exits`: the exit rules checked on every
        candle of an open position (none by default)."""
        self.broker = broker
        self.state = state
        self.history = history
        self.coordination = coordination
        self.clock = clock
        self.limits = limits
        self.day_key = f"risk:{account}:day"
        self.trade_lease_s = trade_lease_s
        self.outbox = outbox if outbox is not None else Outbox(coordination, clock)
        self.exit_on_signal = exit_on_signal
        self.exits = exits
        self.protections = ProtectionWatch(
            protections or ProtectionRules(), history, state, stream=f"account:{account}", account=account
        )

    def handle(self, msg: DecisionReady) -> list[tuple[str, Message]]:
        """Place once per message, and hand on the same PlacementDone however often it is delivered.

        Settling fills pending orders in the broker's book; only the PlacementDone carries those fills to
        the ledger. So a delivery whose hand-on was lost (the publish failed after this ran) must not run
        again (it would find nothing left to settle and report no fills) but hand on what the first run
        produced, kept with the message's claim (see stages.outbox). A duplicate that arrives while another
        worker holds the message's claim raises ClaimInProgressError, so that its bus delivers it again: by then
        that worker completed, or died and its claim expired (and the retry reconciles what it sent)."""
        return self.outbox.once("placed", msg, msg.symbol, lambda: self._settle_and_place(msg))

    def _settle_and_place(self, msg: DecisionReady) -> list[tuple[str, Message]]:
        return [(PLACEMENTS, self.place_once(msg))]

    def place_once(self, msg: DecisionReady) -> PlacementDone:
        """What `handle` hands on, for wiring that delivers each message exactly once and keeps nothing
        for a redelivery (a backtest: its outbox is NO_OUTBOX).

        For each decision point in order: settle what is pending at the price observed, check the exit
        rules against the point's candle (stages.exit_watch), then place the committee's intent.

        With nothing pending, settling would only show the broker a new price, and only the newest
        matters: it is shown when an intent needs the account, or when the window ends."""
        steps = msg.steps
        placed = self.session(msg.symbol, msg.cycle_id).place(steps, 0, len(steps))
        if placed is None:  # the usual bar: nothing happened
            return PlacementDone(msg.cycle_id, msg.symbol, steps[-1].mark_price if steps else 0.0)
        return placed

    def session(self, symbol: str, cycle_id: str) -> PlacementSession:
        """One symbol's placement over several consecutive messages of a cycle (a backtest places a
        portfolio's window point by point across its symbols): each `place` is `place_once` of one message,
        but the broker's pending state is read once, here, and then carried from message to message.

        For wiring that delivers each message exactly once, in order, where nothing else places or settles
        this symbol's orders between two messages of the session (its own fills and orders are all it can
        change, and it follows them); other symbols may trade in between."""
        return PlacementSession(self, symbol, cycle_id, self.broker.has_pending(symbol))

    def _exit_session(self, symbol: str, first: DecidedStep) -> ExitSession | None:
        """The symbol's exit state for one message that starts at `first` (None when no exit rule is
        configured)."""
        if self.exits is None or not self.exits.active:
            return None
        return self.exits.begin(
            symbol, lambda: self.broker.account().positions.get(symbol, 0.0), first.candle, first.mark_price
        )

    def place(self, intent: OrderIntent, *, now: int, cycle_id: str | None = None) -> Placed:
        """Risk, then the broker; at most once per intent id, however often this is called.

        A cycle's intent also needs the symbol's trading lease: when two cycles overlap (a cron run
        still going when the next starts), the first to place holds it for `trade_lease_s` (half a
        timeframe: consecutive cycles never meet it) and the other's order is refused, with the reason
        stored. A manual trade (no cycle) needs no lease.

        The intent's claim lasts as long as the message's (the outbox's `in_progress_ttl_s`): while another
        attempt holds it, ClaimInProgressError (retry later). A claim left by a worker that died is taken over
        once expired; the venue is then asked for the client order id first, so nothing is sent twice."""
        key = f"order:{intent.intent_id}"
        owner = os.urandom(16).hex()  # this attempt: only it may complete or abandon the claim (uuid4's bytes)
        ttl_s = self.outbox.in_progress_ttl_s
        earlier = self.coordination.begin(key, owner=owner, now=self.clock.now(), in_progress_ttl_s=ttl_s)
        if earlier is not None and earlier.status == IdempotencyStatus.IN_PROGRESS:
            raise ClaimInProgressError(key, earlier.expires_ts - self.clock.now())
        if earlier is not None:
            note = f"intent {intent.intent_id} was handled already: skipped"
            return Placed(self.broker.get_order(intent.intent_id), None, note, duplicate=True)
        try:
            known = self.broker.get_order(intent.intent_id)
            if known is not None:  # an earlier attempt reached the venue, then died before completing its claim
                note = f"reconciled: the venue already holds order {intent.intent_id}; nothing placed again"
                done = {"client_order_id": known.client_order_id, "note": note}
                self.coordination.complete(key, done, owner=owner, now=self.clock.now(), ttl_s=DONE_TTL_S)
                return Placed(known, None, note, duplicate=True)
            rejection: RiskRejection | None
            if cycle_id is not None and not self._hold_trade_lease(intent.symbol, cycle_id):
                note = self._overlap_reason(intent.symbol)
                order, rejection = None, self._refuse(intent, now, note)
            else:
                order, rejection, note = self._risk_then_submit(intent, now)
        except BaseException:
            self.coordination.abandon(key, owner=owner)
            raise
        result = {"client_order_id": order.client_order_id if order else None, "note": note}
        self.coordination.complete(key, result, owner=owner, now=self.clock.now(), ttl_s=DONE_TTL_S)
        return Placed(order, rejection, note)

    def _hold_trade_lease(self, symbol: str, cycle_id: str) -> bool:
        now = self.clock.now()
        return self.coordination.acquire_lease(f"trade:{symbol}", cycle_id, now=now, ttl_s=self.trade_lease_s)

    def _overlap_reason(self, symbol: str) -> str:
        return (
            f"another cycle is trading {symbol} right now (overlapping cycles: it holds the symbol's trading lease "
            f"for up to {self.trade_lease_s} s); this cycle's order is not placed"
        )

    def _refuse(self, intent: OrderIntent, now: int, reason: str) -> RiskRejection:
        rejection = RiskRejection(
            intent_id=intent.intent_id,
            symbol=intent.symbol,
            side=intent.side,
            reason=reason,
            ts=now,
            decision_id=intent.decision_id,
        )
        self.history.record_rejection(rejection)
        return rejection

    def _risk_then_submit(self, intent: OrderIntent, now: int) -> tuple[Order | None, RiskRejection | None, str]:
        account = self.broker.account()
        hold = self._moot(intent, account)
        if hold:
            return None, None, hold
        verdict = self._check_and_count(intent, now, account)
        if not verdict.approved or verdict.intent is None:
            return None, self._refuse(intent, now, verdict.reason), verdict.reason
        sized = verdict.intent
        order = self.broker.submit(
            Order(
                client_order_id=sized.intent_id,
                symbol=sized.symbol,
                side=sized.side,
                notional=sized.notional,
                quantity=sized.quantity,
                fraction=sized.fraction,
                placed_ts=now,
            )
        )
        return order, None, "" if verdict.reason == "approved" else verdict.reason

    def _moot(self, intent: OrderIntent, account: AccountView) -> str:
        """Why this committee intent is a hold rather than an order ("" when it is an order)."""
        if intent.source == "committee" and intent.side is Side.SELL and not self.exit_on_signal:
            return f"exits.exit_on_signal is off: the committee's SELL on {intent.symbol} is a hold"
        return moot_decision(intent, account, self.limits)

    def _entries_paused(self, intent: OrderIntent, now: int) -> str:
        """Why a new entry may not be made now: the owner's pause, or a protection; "" when it may."""
        if intent.side is not Side.BUY:
            return ""
        owner = paused_reason(self.state)
        if owner:
            return owner
        pause = self.protections.pause_for(intent.symbol, now)
        return pause.describe() if pause is not None else ""

    def _check_and_count(self, intent: OrderIntent, now: int, account: AccountView) -> RiskVerdict:
        """Risk against today's counters; an approval takes its slot in the day's order count (and a
        breach of the daily loss halts the day) in one conditional write, before anything is sent."""
        kill_on = kill_switch_on(self.state)
        paused = self._entries_paused(intent, now)
        for _ in range(RETRIES):
            found = self.state.get(self.day_key)
            current = RiskDay.from_dict(found.value) if found else None
            # the account is valued only when a new day starts (roll_day): most orders fall on the same day
            day = (
                current
                if current is not None and current.day == now // DAY_S
                else roll_day(current, now, account.equity)
            )
            verdict = check_order(intent, account, day, self.limits, kill_switch=kill_on, entries_paused=paused)
            new = verdict.day or day
            if verdict.approved:
                new = RiskDay(new.day, new.start_equity, new.orders + 1, new.halted)
            if new == current:
                return verdict
            try:
                self.state.put(self.day_key, new.to_dict(), expected_version=found.version if found else 0)
                return verdict
            except ConflictError:
                continue
        raise ConflictError(f"{self.day_key}: {RETRIES} concurrent updates in a row; try again")


def set_kill_switch(state: StateStore, on: bool, *, reason: str = "", ts: int = 0) -> None:
    state.put(KILL_SWITCH_KEY, {"on": on, "reason": reason, "ts": ts})


def kill_switch_on(state: StateStore) -> bool:
    found = state.get(KILL_SWITCH_KEY)
    return bool(found and found.value.get("on"))


class PlacementSession:
    """One symbol's placement through one message, or several consecutive ones (PlacementStage.session):
    the broker's pending state and the newest price it has not seen, carried from message to message, and
    what the current message filled, placed and refused. A session whose `place` raised is not used again."""

    __slots__ = (
        "broker",
        "cycle_id",
        "exits",
        "fills",
        "notes",
        "orders",
        "pending",
        "refused",
        "rejections",
        "stage",
        "symbol",
        "unseen",
    )

    def __init__(self, stage: PlacementStage, symbol: str, cycle_id: str, pending: bool) -> None:
        self.stage, self.symbol, self.cycle_id, self.broker = stage, symbol, cycle_id, stage.broker
        self.exits: ExitSession | None = None  # the symbol's exit state during one message
        self.fills: list[Fill] = []
        self.refused: list[Order] = []
        self.orders: list[Order] = []
        self.rejections: list[RiskRejection] = []
        self.notes: list[str] = []
        self.pending = pending
        self.unseen: DecidedStep | None = None  # the newest point whose price the broker has not seen yet

    def place(self, steps: Sequence[DecidedStep], start: int, end: int) -> PlacementDone | None:
        """Place the message of the points `steps[start:end]`: what `place_once` hands on for it, or None
        when nothing happened (no fill, order, refusal or note: most bars)."""
        return self._place(steps, start, end)

    def place_one(self, step: DecidedStep) -> PlacementDone | None:
        """`place` of a message of the one point `step`."""
        if step.intent is not None or self.stage.exits is not None:
            return self._place((step,), 0, 1)
        # Nothing to place and no exit state to keep: the point's price settles, pending or not (with
        # nothing pending, it would be the message's newest unseen price).
        self.settle(step.settle_price, step.settle_ts)
        if not (self.fills or self.refused):  # all a settlement can bring
            return None
        return self._done(step)

    def _place(self, steps: Sequence[DecidedStep], start: int, end: int) -> PlacementDone | None:
        if start >= end:
            return None
        stage = self.stage
        if stage.exits is not None:
            self.exits = stage._exit_session(self.symbol, steps[start])
        try:
            if self.exits is None:
                step, settle, symbol = self.step, self.settle, self.symbol
                quiet_run = getattr(self.broker, "quiet_run", None)  # a backtest's broker (backtest.exits)
                settled = start  # the points before it are settled already
                for i in range(start, end):
                    point = steps[i]
                    if point.intent is not None:
                        step(point)
                    elif not self.pending:  # `step` of a point without an intent, nor an exit state to check
                        self.unseen = point
                    elif i >= settled:
                        quiet = quiet_run(symbol, steps, i, end) if quiet_run is not None else i
                        if quiet > i:  # points that would only watch the position: settled at once
                            self.broker.watched(symbol, steps, i, quiet)  # type: ignore[attr-defined]
                            settled = quiet
                        else:
                            settle(point.settle_price, point.settle_ts)
            else:
                step = self.step
                for i in range(start, end):
                    step(steps[i])
            self.show_unseen()
        finally:  # what the fills so far taught the exit state is kept, even if this call fails
            if self.exits is not None:
                self.exits.finish()
        return self._done(steps[end - 1])

    def _done(self, last: DecidedStep) -> PlacementDone | None:
        """What the message that ended at the point `last` came to, handed on once (the next starts afresh)."""
        fills = self.fills
        if fills and any(f.side is Side.SELL for f in fills):
            self.stage.protections.refresh(last.ts)  # a pause an exit starts is stored (and shown) now
        if not (fills or self.orders or self.rejections or self.notes or self.refused):
            return None  # the usual bar: nothing happened
        done = PlacementDone(
            cycle_id=self.cycle_id,
            symbol=self.symbol,
            mark_price=last.mark_price,
            fills=tuple(fills),
            refused_by_venue=tuple(self.refused),
            orders=tuple(self.orders),
            rejections=tuple(self.rejections),
            notes=tuple(self.notes),
        )
        self.fills, self.refused, self.orders, self.rejections, self.notes = [], [], [], [], []
        return done

    def settle(self, price: float, ts: int) -> None:
        settlement = self.broker.settle(self.symbol, price, ts)
        if settlement.fills or settlement.refused:
            settled = [with_exit_reason(f) for f in settlement.fills]
            self.fills.extend(settled)
            self.refused.extend(settlement.refused)
            self.stage.protections.take_in(settled)
            if self.exits is not None:
                self.exits.take(settled)
        self.pending, self.unseen = settlement.pending, None

    def show_unseen(self) -> None:
        unseen = self.unseen
        if unseen is not None:
            self.settle(unseen.settle_price, unseen.settle_ts)

    def note(self, placed: Placed) -> None:
        if placed.order is not None and not placed.duplicate:
            self.orders.append(placed.order)
        if placed.rejection is not None:
            self.rejections.append(placed.rejection)
        if placed.note:
            self.notes.append(placed.note)

    def step(self, step: DecidedStep) -> None:
        if self.pending:
            self.settle(step.settle_price, step.settle_ts)
        else:
            self.unseen = step
        if self.exits is not None and self.exits.open and step.candle is not None:
            self.check_exit(step, self.exits)
        if step.intent is not None:
            self.show_unseen()
            exits = self.exits
            if step.intent.side is Side.SELL and exits is not None and exits.exit_in_flight(self.broker):
                self.notes.append(f"an exit of {self.symbol} is on its way at the venue: the SELL is a hold")
                return
            placed = self.stage.place(step.intent, now=step.ts, cycle_id=self.cycle_id)
            self.pending = self.pending or (placed.order is not None and not placed.duplicate)
            self.note(placed)

    def check_exit(self, step: DecidedStep, exits: ExitSession) -> None:
        assert step.candle is not None
        due = exits.due(step.candle)
        if due is None:
            return
        bar, signal = due
        if not exits.exit_in_flight(self.broker) and exits.still_held(self.broker):
            self.show_unseen()
            decision_id = step.decision.decision_id if step.decision is not None else None
            intent = exits.exit_intent(bar, signal, decision_id=decision_id)
            placed = self.stage.place(intent, now=step.ts, cycle_id=self.cycle_id)
            self.note(placed)
            if placed.order is not None and not placed.duplicate:
                exits.sent(placed.order.client_order_id)
                # paper: at the rule's price, as the stop resting at a venue would have filled;
                # live: the venue reports the market order's fill
                self.settle(signal.price, step.ts)
        exits.tried(bar)  # not reached if this failed: a retry checks the candle again
