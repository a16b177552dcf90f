"""The Telegram commands: each a function of the command's argument to the text answered.

Fast commands read the status document (coinswarm.http.status_document) or flip a flag, and are answered
inside the webhook's own response. `SLOW` ones (a cycle, a flatten: orders and a venue on the way) are
acknowledged there and answered afterwards by a `sendMessage` (see coinswarm.http.telegram_webhook).
The owner's actions (pause, resume, kill, flatten, cycle) go through `act(body)`: the same JSON bodies the
manual trade endpoint accepts (`{"action": "pause", "reason": ...}`), answered as (status, body)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Act = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
Document = Callable[[], dict[str, Any]]
Ledger = Callable[[], list[Any]]

SLOW = frozenset({"cycle", "flatten"})
HELP = """Coinswarm commands
/status - equity, positions, health
/profit - P&L, fees, fills
/daily - realized P&L per day (7 days)
/balance - cash and holdings
/trades - the last 10 fills
/pause [reason] - no new entries (exits go on)
/resume - entries allowed again
/kill - kill switch on: no order at all (/kill off lifts it)
/flatten SYMBOL|all - exit now at market
/cycle - run a cycle now
/help - this list"""


def _m(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _when(ts: int | None) -> str:
    return "never" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


class Commands:
    def __init__(self, document: Document, act: Act, events: Ledger) -> None:
        self.document = document
        self.act = act
        self.events = events

    def answer(self, name: str, arg: str) -> str:
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None:
            return f"Unknown command /{name}.\n\n{HELP}"
        text: str = handler(arg.strip())
        return text

    # -- reading ------------------------------------------------------------------------------

    def cmd_help(self, arg: str) -> str:
        return HELP

    def cmd_start(self, arg: str) -> str:
        return HELP

    def cmd_status(self, arg: str) -> str:
        s = self.document()
        lc = s["last_cycle"]
        health = [
            "🛑 kill switch ON" if s["kill_switch"].get("on") else "kill switch off",
            "⏸ entries paused" if s["paused"].get("on") else "entries open",
            (f"⚠️ last cycle late {lc['late_s'] // 60} min" if lc["late"] and lc["ts"] else "cycle on time")
            if lc["ts"]
            else "no cycle yet",
        ]
        lines = [
            f"📈 {s['mode'].upper()} · equity {_m(s['equity'])} · P&L {s['pnl']:+,.2f}",
            f"cash {_m(s['cash'])} · {len(s['pending_orders'])} pending order(s)",
            " · ".join(health),
        ]
        for p in s["positions"]:
            stop = f" stop {p['stop']:,.6g}" if p["stop"] else ""
            lines.append(
                f"• {p['symbol']} {p['quantity']:.8g} @ {p['avg_cost']:,.6g} (mark {p['mark'] or 0:,.6g}{stop}) "
                f"{p['unrealized_pnl']:+,.2f}"
            )
        if not s["positions"]:
            lines.append("no open positions")
        for b in s["circuit_breakers"]:
            lines.append(f"⚡ {b.get('describe', 'breaker')}")
        for p in s.get("protections", []):
            lines.append(f"🛡 {p['protection']} pauses entries on {p['scope']}: {p['reason']}")
        lines.append(f"last cycle {_when(lc['ts'])}")
        return "\n".join(lines)

    def cmd_profit(self, arg: str) -> str:
        s = self.document()
        return (
            f"P&L {s['pnl']:+,.2f} (realized {s['realized_pnl']:+,.2f}, unrealized {s['unrealized_pnl']:+,.2f})\n"
            f"fees {_m(s['fees'])} · {s['fills']} fill(s), {s['sells']} exit(s) · started with {_m(s['deposited'])}"
        )

    def cmd_daily(self, arg: str) -> str:
        from coinswarm.http.status_document import daily

        rows = daily(self.events())
        if not rows:
            return "No fills yet."
        return "\n".join(
            f"{r['day']}: {r['realized_pnl']:+,.2f} · {r['fills']} fill(s) · fees {r['fees']:,.2f}" for r in rows
        )

    def cmd_balance(self, arg: str) -> str:
        s = self.document()
        lines = [f"cash {_m(s['cash'])}"]
        for p in s["positions"]:
            value = p["quantity"] * (p["mark"] or p["avg_cost"])
            lines.append(f"{p['symbol']} {p['quantity']:.8g} ≈ {_m(value)}")
        lines.append(f"equity {_m(s['equity'])}")
        return "\n".join(lines)

    def cmd_trades(self, arg: str) -> str:
        from coinswarm.http.status_document import last_fills

        fills = last_fills(self.events())
        if not fills:
            return "No fills yet."
        return "\n".join(
            f"{_when(f['ts'])[5:16]} {f['side'].upper()} {f['quantity']:.8g} {f['symbol']} @ {f['price']:,.6g}"
            + (f" ({f['exit_reason']})" if f["exit_reason"] else "")
            for f in fills
        )

    # -- acting -------------------------------------------------------------------------------

    def _said(self, status: int, body: dict[str, Any], ok: str) -> str:
        if status >= 400:
            return f"❌ {body.get('detail') or body.get('error') or status}"
        return ok

    def cmd_pause(self, arg: str) -> str:
        status, body = self.act({"action": "pause", "reason": arg[:200] or "from Telegram"})
        return self._said(status, body, "⏸ Entries paused; exits go on. /resume to lift.")

    def cmd_resume(self, arg: str) -> str:
        status, body = self.act({"action": "resume"})
        return self._said(status, body, "▶️ Entries resumed.")

    def cmd_kill(self, arg: str) -> str:
        on = arg.lower() not in ("off", "0", "false")
        status, body = self.act({"action": "kill_switch", "on": on, "reason": "from Telegram"})
        text = "🛑 Kill switch ON: the bot sends no order. /kill off lifts it." if on else "🟢 Kill switch off."
        return self._said(status, body, text)

    def cmd_flatten(self, arg: str) -> str:
        target = arg.upper()
        if not target:
            return "Say what to flatten: /flatten BTC-USD or /flatten all"
        body_in: dict[str, Any] = {"action": "flatten", **({"all": True} if target == "ALL" else {"symbol": target})}
        status, body = self.act(body_in)
        if status >= 400 and "flattened" not in body:
            return self._said(status, body, "")
        lines = [f"🧹 Flatten {target.lower() if target == 'ALL' else target}:"]
        for f in body.get("flattened", []):
            got = sum(x["quantity"] for x in f.get("filled", []))
            lines.append(
                f"• {f['symbol']}: " + (f"sold {got:.8g}" if got else f.get("refused") or f.get("note") or "sent")
            )
        return "\n".join(lines)

    def cmd_cycle(self, arg: str) -> str:
        status, body = self.act({"action": "run_cycle"})
        result = body.get("result", {})
        return self._said(
            status, body, f"🔁 Cycle {result.get('cycle_id', '')} ran ({result.get('published', 0)} message(s))."
        )


def parse(text: str) -> tuple[str, str] | None:
    """`/name@bot arg` -> ("name", "arg"); None when the text is not a command."""
    text = text.strip()
    if not text.startswith("/"):
        return None
    head, _, arg = text.partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    return (name, arg) if name.isidentifier() else None
