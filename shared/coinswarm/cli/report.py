"""What `coinswarm run` prints: one line per symbol per cycle, and the session summary."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from coinswarm.domain.exit_ids import exit_reason_of
from coinswarm.domain.models import Action, ExitReason, Side, iso
from coinswarm.domain.votes import SHORT as SHORT
from coinswarm.domain.votes import votes_text
from coinswarm.stages.messages import DECISIONS, PLACEMENTS, SCORES, DecisionReady, Message, PlacementDone, ScoresReady


def money(x: float) -> str:
    return f"{x:,.2f}"


def price(x: float) -> str:
    return f"{x:,.2f}" if x >= 100 else f"{x:.6g}"


@dataclass
class CycleReporter:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    quiet: bool = False
    decisions: dict[tuple[str, str], DecisionReady] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)
    orders: int = 0
    rejections: int = 0
    fills: int = 0
    venue_refusals: int = 0
    lines: int = 0

    def __call__(self, topic: str, message: Message) -> None:
        if topic == SCORES and isinstance(message, ScoresReady) and message.gaps:
            for g in message.gaps:
                self.gaps.append(g)
                self._print(f"  gap: {g}")
        elif topic == DECISIONS and isinstance(message, DecisionReady):
            self.decisions[(message.cycle_id, message.symbol)] = message
        elif topic == PLACEMENTS and isinstance(message, PlacementDone):
            self._line(message)

    def _line(self, done: PlacementDone) -> None:
        """One line for the cycle's newest decision, with everything order placement did."""
        ready = self.decisions.pop((done.cycle_id, done.symbol), None)
        step = ready.steps[-1] if ready is not None and ready.steps else None
        if step is None or step.decision is None:
            return
        d = step.decision
        events = []
        for f in done.fills:
            self.fills += 1
            why = f" ({f.exit_reason.value})" if f.exit_reason is not None else ""
            events.append(f"filled {f.side.value} {f.quantity:.6g} @ {price(f.price)} fee {money(f.fee)}{why}")
            if f.note:
                events.append(f"({f.note})")
        for o in done.refused_by_venue:
            self.venue_refusals += 1
            events.append(f"broker refused {o.client_order_id}: {o.note}")
        for o in done.orders:
            self.orders += 1
            size = money(o.notional) if o.notional else f"{o.quantity:.6g}" if o.quantity else f"{o.fraction:.0%}"
            reason = exit_reason_of(o.client_order_id) if o.side is Side.SELL else None
            if reason is not None and reason is not ExitReason.SIGNAL:
                events.append(f"exit {reason.value}: order {o.side.value} {size} placed")
            else:
                events.append(f"order {o.side.value} {size} placed (fills at next open)")
        for r in done.rejections:
            self.rejections += 1
            events.append(f"refused by risk: {r.reason}")
        reasons = {r.reason for r in done.rejections}
        events.extend(f"({n})" for n in done.notes if n not in reasons)
        if self.quiet and d.action is Action.HOLD and not events:
            return
        verdict = f"{d.action.value.upper()} {d.confidence:.2f}"
        self._print(
            f"{iso(d.ts)[5:16].replace('T', ' ')} {d.symbol:<9} {price(step.mark_price):>12} | "
            f"{votes_text(d):<40} | {verdict:<9} | {' '.join(events) or '-'}"
        )

    def _print(self, text: str) -> None:
        self.lines += 1
        print(text, file=self.out, flush=False)
