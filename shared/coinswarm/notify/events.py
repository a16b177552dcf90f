"""The events the owner hears about, each with the key that makes it "sent at most once".

An `Event` is a kind (coinswarm.config.remote.EVENT_KINDS), a key naming this one happening (a fill's
id, a breaker's venue and opening time, a day), a title and a few lines of text. The key is what the
notifier claims in the coordination store, so a stage retried any number of times sends it once; a
risk refusal's key is its symbol and the window of `refusal_every_s` it falls in, which also limits it
to one notification per symbol and window. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from coinswarm.domain.models import Fill, RiskRejection, Side


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    key: str
    title: str
    lines: tuple[str, ...] = ()
    ts: int = 0
    data: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join((self.title, *self.lines))


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _signed(x: float) -> str:
    return f"{x:+,.2f}"


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def fill_event(fill: Fill, *, pnl: float | None = None) -> Event:
    """An entry (a buy) or an exit (a sell: its reason and the trade's realized P&L, fees included)."""
    entry = fill.side is Side.BUY
    verb = "Bought" if entry else "Sold"
    title = f"{'🟢' if entry else '🔴'} {verb} {fill.quantity:.8g} {fill.symbol} at {fill.price:,.6g}"
    lines = [f"notional {_money(fill.notional)} · fee {_money(fill.fee)}"]
    if not entry:
        reason = fill.exit_reason.value if fill.exit_reason is not None else "signal"
        lines.append(f"exit reason {reason}" + (f" · P&L {_signed(pnl)}" if pnl is not None else ""))
    lines.append(f"order {fill.client_order_id} · {_when(fill.ts)}")
    return Event(
        "entry" if entry else "exit",
        f"fill:{fill.fill_id}",
        title,
        tuple(lines),
        fill.ts,
        {"symbol": fill.symbol, "side": fill.side.value, "price": fill.price, "quantity": fill.quantity, "pnl": pnl},
    )


def refusal_event(rejection: RiskRejection, *, every_s: int) -> Event:
    window = rejection.ts // every_s
    return Event(
        "refusal",
        f"refusal:{rejection.symbol}:{window}",
        f"⛔ Risk refused a {rejection.side.value} of {rejection.symbol}",
        (rejection.reason, f"at most one such notice per symbol every {every_s // 60} min"),
        rejection.ts,
        {"symbol": rejection.symbol, "reason": rejection.reason},
    )


def breaker_event(venue: str, *, opened: bool, since_ts: int, describe: str = "") -> Event:
    state = "opened" if opened else "closed"
    title = f"{'⚡' if opened else '✅'} Circuit breaker {state} on {venue}"
    lines = (describe or ("no new orders until it closes" if opened else "orders flow again"),)
    return Event("breaker", f"breaker:{venue}:{state}:{since_ts}", title, lines, since_ts, {"venue": venue})


def switch_event(kind: str, *, on: bool, reason: str, ts: int, who: str = "") -> Event:
    """pause / kill_switch: turned on or off (by `who`: telegram, cli, a protection)."""
    names = {
        "pause": ("⏸ Entries paused", "▶️ Entries resumed"),
        "kill_switch": ("🛑 Kill switch ON", "🟢 Kill switch off"),
    }
    title = names[kind][0 if on else 1]
    lines = tuple(x for x in (reason, f"by {who}" if who else "") if x)
    return Event(kind, f"{kind}:{'on' if on else 'off'}:{ts}", title, lines, ts, {"on": on, "reason": reason})


def flatten_event(symbols: list[str], *, ts: int, who: str = "") -> Event:
    what = ", ".join(symbols) if symbols else "no open position"
    return Event(
        "flatten", f"flatten:{','.join(symbols)}:{ts}", f"🧹 Flatten: {what}", (f"by {who}",) if who else (), ts
    )


def protection_event(name: str, *, symbol: str, until_ts: int, reason: str, ts: int) -> Event:
    return Event(
        "protection",
        f"protection:{name}:{symbol}:{until_ts}",
        f"🛡 {name} paused entries on {symbol or 'every symbol'}",
        (reason, f"until {_when(until_ts)}"),
        ts,
        {"symbol": symbol, "until": until_ts},
    )


def daily_summary_event(day: str, *, equity: float, pnl: float, trades: int, fees: float, ts: int) -> Event:
    return Event(
        "daily_summary",
        f"daily:{day}",
        f"📊 {day}: equity {_money(equity)}",
        (f"P&L {_signed(pnl)} · {trades} trade(s) · fees {_money(fees)}",),
        ts,
        {"equity": equity, "pnl": pnl, "trades": trades, "fees": fees},
    )


def dead_letter_event(topic: str, message_id: str, *, error: str, ts: int) -> Event:
    return Event(
        "dead_letter",
        f"dead_letter:{topic}:{message_id}",
        f"📮 A {topic} message landed in the dead letter queue",
        (error[:200], f"message {message_id}"),
        ts,
        {"topic": topic},
    )


def heartbeat_event(last_cycle_ts: int | None, *, periods: int, ts: int) -> Event:
    last = _when(last_cycle_ts) if last_cycle_ts else "never"
    return Event(
        "heartbeat",
        f"heartbeat:{last_cycle_ts or 0}",
        f"💤 No cycle ran for {periods} periods",
        (f"last cycle {last}",),
        ts,
    )
