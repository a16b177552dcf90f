"""Protections: pauses of new entries after losses, as freqtrade's, evaluated on the ledger's fills (so
they survive restarts and hold across functions). Exits are never paused (see domain.risk).

- cooldown: after a stop-loss exit on a symbol, no new entry on it for `cooldown_candles` candles;
- stop-loss guard: `guard_trades` stop exits (a stop-loss, or a trailing stop that exited at a loss)
  within `guard_lookback_s` pause entries on that symbol (`guard_per_symbol`) or on all, for
  `guard_pause_s` from the last of them;
- max drawdown: a drawdown of the realized equity (the starting cash plus the profit of every exit)
  within `drawdown_lookback_s` beyond `max_drawdown_pct` pauses every entry for `drawdown_pause_s`
  from the exit that reached it.

Every pause ends at a time fixed by the exits that caused it, not by when it was evaluated: the same
ledger gives the same pauses wherever and whenever they are computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from coinswarm.domain.models import ExitReason, Fill, Side, iso

EVERY_SYMBOL = "*"
DUST = 1e-12


@dataclass(frozen=True, slots=True)
class ProtectionRules:
    """0 turns a protection off."""

    timeframe_s: int = 60
    cooldown_candles: int = 0
    guard_trades: int = 0
    guard_lookback_s: int = 86_400
    guard_pause_s: int = 3_600
    guard_per_symbol: bool = True
    max_drawdown_pct: float = 0.0
    drawdown_lookback_s: int = 86_400
    drawdown_pause_s: int = 3_600

    @property
    def enabled(self) -> bool:
        return bool(self.cooldown_candles or self.guard_trades or self.max_drawdown_pct)

    @property
    def horizon_s(self) -> int:
        """How far back an exit can still matter (older exits may be forgotten)."""
        return max(
            self.cooldown_candles * self.timeframe_s,
            self.guard_lookback_s + self.guard_pause_s,
            self.drawdown_lookback_s + self.drawdown_pause_s,
        )


@dataclass(frozen=True, slots=True)
class ClosedExit:
    """One exit (a sell fill) as the protections see it: its profit is net of its share of the entry's
    cost and fees and of its own fee; `equity` is the realized equity just after it."""

    symbol: str
    ts: int
    reason: ExitReason | None
    profit: float
    equity: float

    @property
    def is_stop(self) -> bool:
        return self.reason is ExitReason.STOP_LOSS or (self.reason is ExitReason.TRAILING_STOP and self.profit < 0)


@dataclass(frozen=True, slots=True)
class Pause:
    """New entries on `scope` (a symbol, or EVERY_SYMBOL) are paused from `since_ts` until `until_ts`."""

    protection: str
    scope: str
    since_ts: int
    until_ts: int
    reason: str

    def covers(self, symbol: str, now: int) -> bool:
        return self.since_ts <= now < self.until_ts and self.scope in (symbol, EVERY_SYMBOL)

    def describe(self) -> str:
        where = "every symbol" if self.scope == EVERY_SYMBOL else self.scope
        return f"{self.protection} on {where} until {iso(self.until_ts)}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {
            "protection": self.protection,
            "scope": self.scope,
            "since_ts": self.since_ts,
            "until_ts": self.until_ts,
            "reason": self.reason,
        }


@dataclass(slots=True)
class ExitTape:
    """The exits folded from fills, in the order given: per symbol the open quantity and its cost (fees
    included) carry each exit's profit. `forget_before` drops exits no protection can still use."""

    equity: float = 0.0
    exits: list[ClosedExit] = field(default_factory=list)
    _open: dict[str, tuple[float, float]] = field(default_factory=dict)  # symbol -> (quantity, cost)

    def deposit(self, cash: float) -> None:
        self.equity += cash

    def add(self, fill: Fill) -> ClosedExit | None:
        qty, cost = self._open.get(fill.symbol, (0.0, 0.0))
        if fill.side is Side.BUY:
            self._open[fill.symbol] = (qty + fill.quantity, cost + fill.quantity * fill.price + fill.fee)
            return None
        sold = min(fill.quantity, qty) if qty > 0 else fill.quantity
        basis = cost * (sold / qty) if qty > DUST else 0.0
        profit = fill.quantity * fill.price - fill.fee - basis
        left = qty - sold
        self._open[fill.symbol] = (left, cost - basis) if left > DUST else (0.0, 0.0)
        self.equity += profit
        closed = ClosedExit(fill.symbol, fill.ts, fill.exit_reason, profit, self.equity)
        self.exits.append(closed)
        return closed

    def forget_before(self, ts: int) -> None:
        if self.exits and self.exits[0].ts < ts:
            self.exits = [e for e in self.exits if e.ts >= ts]


def pauses_at(rules: ProtectionRules, exits: Sequence[ClosedExit], now: int) -> list[Pause]:
    """Every pause in force at `now`, given the exits so far (oldest first)."""
    if not rules.enabled:
        return []
    found = [*_cooldowns(rules, exits), *_stop_guards(rules, exits, now), *_drawdown(rules, exits, now)]
    return [p for p in found if p.since_ts <= now < p.until_ts]


def blocking(pauses: Iterable[Pause], symbol: str, now: int) -> Pause | None:
    """The pause that ends last among those stopping an entry on `symbol` at `now`, if any."""
    covering = [p for p in pauses if p.covers(symbol, now)]
    return max(covering, key=lambda p: p.until_ts) if covering else None


def _cooldowns(rules: ProtectionRules, exits: Sequence[ClosedExit]) -> list[Pause]:
    if not rules.cooldown_candles:
        return []
    last: dict[str, ClosedExit] = {}
    for e in exits:
        if e.reason is ExitReason.STOP_LOSS:
            last[e.symbol] = e
    span = rules.cooldown_candles * rules.timeframe_s
    return [
        Pause("cooldown", s, e.ts, e.ts + span, f"stop-loss exit at {iso(e.ts)}: {rules.cooldown_candles} candles")
        for s, e in last.items()
    ]


def _stop_guards(rules: ProtectionRules, exits: Sequence[ClosedExit], now: int) -> list[Pause]:
    if not rules.guard_trades:
        return []
    since = now - rules.guard_lookback_s - rules.guard_pause_s
    stops = [e for e in exits if e.is_stop and e.ts >= since]
    groups: dict[str, list[ClosedExit]] = {}
    for e in stops:
        groups.setdefault(e.symbol if rules.guard_per_symbol else EVERY_SYMBOL, []).append(e)
    out: list[Pause] = []
    for scope, group in groups.items():
        # the pause the latest window of `guard_trades` stops gives: from the last of them
        for i in range(len(group) - rules.guard_trades, -1, -1):
            window = group[i : i + rules.guard_trades]
            first, last = window[0], window[-1]
            if last.ts - first.ts <= rules.guard_lookback_s:
                why = f"{rules.guard_trades} stop-losses from {iso(first.ts)} to {iso(last.ts)}"
                out.append(Pause("stop_loss_guard", scope, last.ts, last.ts + rules.guard_pause_s, why))
                break
    return out


def _drawdown(rules: ProtectionRules, exits: Sequence[ClosedExit], now: int) -> list[Pause]:
    """The drawdown of the realized equity, measured at each exit over the lookback before it."""
    if not rules.max_drawdown_pct:
        return []
    since = now - rules.drawdown_lookback_s - rules.drawdown_pause_s
    recent = [i for i, e in enumerate(exits) if e.ts >= since]
    for i in reversed(recent):  # the newest exit whose drawdown breaches the limit
        e = exits[i]
        start = e.ts - rules.drawdown_lookback_s
        window = [x for x in exits[: i + 1] if x.ts >= start]
        before = [x for x in exits[:i] if x.ts < start]
        peak = before[-1].equity if before else window[0].equity - window[0].profit
        for x in window[:-1]:
            peak = max(peak, x.equity)
        drawdown = (peak - e.equity) / peak * 100.0 if peak > 0 else 0.0
        if drawdown >= rules.max_drawdown_pct:
            minutes = rules.drawdown_lookback_s // 60
            why = f"drawdown {drawdown:.2f} % within {minutes} min (limit {rules.max_drawdown_pct:g} %)"
            return [Pause("max_drawdown", EVERY_SYMBOL, e.ts, e.ts + rules.drawdown_pause_s, why)]
    return []


def rules_from(config: Any, timeframe_s: int) -> ProtectionRules:
    """ProtectionRules from a `ProtectionsConfig`-shaped object."""
    cooldown, guard, drawdown = config.cooldown, config.stop_loss_guard, config.max_drawdown
    return ProtectionRules(
        timeframe_s=timeframe_s,
        cooldown_candles=cooldown.candles,
        guard_trades=guard.trades,
        guard_lookback_s=guard.lookback_minutes * 60,
        guard_pause_s=guard.pause_minutes * 60,
        guard_per_symbol=guard.per_symbol,
        max_drawdown_pct=drawdown.max_drawdown_pct or 0.0,
        drawdown_lookback_s=drawdown.lookback_minutes * 60,
        drawdown_pause_s=drawdown.pause_minutes * 60,
    )
