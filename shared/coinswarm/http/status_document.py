"""What `GET /status` answers and the Telegram commands read: one JSON document of the bot's state.

Read only, from the stores a deployment already has (no write, so no cost per cycle): the account folded
from the ledger (equity history: the equity after each ledger event, valued at the last price each
symbol traded at, then now at the newest stored closes), positions with their stop (the one the cycle keeps,
coinswarm.stages.exit_watch, else the configured stop-loss from the average cost), the newest decisions
with every vote, pending orders, the owner's pause, the protections' pauses, the kill switch, the venues'
circuit breakers, and the last cycle (the newest decision's time) with how late it is."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from coinswarm.domain.models import AccountOpened, FillRecorded, Side
from coinswarm.domain.portfolio import Portfolio

PAUSE_KEY = "flags:paused"  # coinswarm.stages.controls.PAUSE_KEY (the owner's pause)
KILL_SWITCH_KEY = "flags:kill_switch"  # coinswarm.stages.placement.KILL_SWITCH_KEY
MAX_POINTS = 500


def _marks(state: Any, symbols: list[str], timeframe_s: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in symbols:
        last = state.recent_candles(s, timeframe_s, 1)
        if last:
            out[s] = last[-1].close
    return out


def equity_history(events: list[Any]) -> tuple[Portfolio, list[list[float]]]:
    """The portfolio the events fold to, and [ts, equity] after each (valued at each symbol's last fill)."""
    portfolio = Portfolio()
    last_price: dict[str, float] = {}
    points: list[list[float]] = []
    for event in events:
        portfolio.apply(event)
        payload = event.payload
        if isinstance(payload, FillRecorded):
            last_price[payload.fill.symbol] = payload.fill.price
            ts = payload.fill.ts
        elif isinstance(payload, AccountOpened):
            ts = payload.ts
        else:  # pragma: no cover - the ledger holds only these two
            continue
        points.append([ts, round(portfolio.equity(last_price), 8)])
    return portfolio, points[-MAX_POINTS:]


def daily(events: list[Any], days: int = 7) -> list[dict[str, Any]]:
    """Per UTC day (newest last): realized P&L (fees included), fills, fees."""
    portfolio = Portfolio()
    out: dict[str, dict[str, Any]] = {}
    for event in events:
        before = portfolio.realized_pnl()
        portfolio.apply(event)
        if isinstance(event.payload, FillRecorded):
            fill = event.payload.fill
            day = datetime.fromtimestamp(fill.ts, UTC).strftime("%Y-%m-%d")
            row = out.setdefault(day, {"day": day, "realized_pnl": 0.0, "fills": 0, "fees": 0.0})
            row["realized_pnl"] += portfolio.realized_pnl() - before
            row["fills"] += 1
            row["fees"] += fill.fee
    return list(out.values())[-days:]


def last_fills(events: list[Any], n: int = 10) -> list[dict[str, Any]]:
    fills = [e.payload.fill for e in events if isinstance(e.payload, FillRecorded)]
    return [
        {
            "ts": f.ts,
            "symbol": f.symbol,
            "side": f.side.value,
            "quantity": f.quantity,
            "price": f.price,
            "fee": f.fee,
            "exit_reason": f.exit_reason.value if f.exit_reason is not None else None,
        }
        for f in fills[-n:]
    ]


def _exit_state(state: Any, account: str, symbol: str) -> dict[str, Any] | None:
    """The stop the cycle keeps for the position (coinswarm.stages.exit_watch), when it keeps one."""
    try:
        from coinswarm.stages.exit_watch import stored_exit_state
    except ImportError:  # pragma: no cover - a build without the cycle's exits
        return None
    doc = stored_exit_state(state, account, symbol)
    tracker = doc.get("tracker") if doc else None
    return dict(tracker) if isinstance(tracker, dict) else None


def _protections(state: Any, account: str, now: int) -> list[dict[str, Any]]:
    """The protections' pauses in force, as order placement last stored them."""
    try:
        from coinswarm.stages.protection_watch import stored_pauses
    except ImportError:  # pragma: no cover
        return []
    return [
        {"protection": p.protection, "scope": p.scope, "until_ts": p.until_ts, "reason": p.reason}
        for p in stored_pauses(state, account)
        if p.until_ts > now
    ]


def status_document(settings: Any, state: Any, history: Any, *, now: int, decisions: int = 10) -> dict[str, Any]:
    tf = settings.timeframe_s
    events = history.read(settings.ledger_stream)
    portfolio, points = equity_history(events)
    marks = _marks(state, sorted(set(settings.symbols) | set(portfolio.holdings)), tf)
    equity = portfolio.equity(marks)
    points.append([now, round(equity, 8)])
    stop_pct = settings.exits.stop_loss_pct
    positions = []
    for pos in portfolio.positions():
        if pos.quantity <= 0:
            continue
        mark = marks.get(pos.symbol)
        tracked = _exit_state(state, settings.account, pos.symbol)
        stop = tracked.get("stop") if tracked else (pos.avg_cost * (1 - stop_pct / 100) if stop_pct else None)
        positions.append(
            {
                "symbol": pos.symbol,
                "quantity": pos.quantity,
                "avg_cost": pos.avg_cost,
                "mark": mark,
                "unrealized_pnl": pos.quantity * ((mark if mark is not None else pos.avg_cost) - pos.avg_cost),
                "stop": stop,
                "trailing": bool(tracked.get("trailing")) if tracked else False,
            }
        )
    recent = history.recent_decisions(decisions)
    book = state.get(f"{'live' if settings.mode == 'live' else 'paper'}:{settings.account}:book")
    pending = [book.value["orders"][cid] for cid in book.value.get("pending", [])] if book else []
    kill = state.get(KILL_SWITCH_KEY)
    pause = state.get(PAUSE_KEY)
    breakers = [b.value for v in settings.venues if (b := state.get(f"venue:{v.name}:breaker")) is not None]
    last_ts = max((d.ts for d in recent), default=None)
    late_s = max(0, now - last_ts - tf) if last_ts is not None else None
    periods = settings.remote.late_after_periods
    return {
        "as_of": now,
        "mode": settings.mode,
        "account": settings.account,
        "symbols": list(settings.symbols),
        "timeframe_s": tf,
        "cash": portfolio.cash,
        "equity": equity,
        "deposited": portfolio.deposited,
        "pnl": equity - portfolio.deposited,
        "realized_pnl": portfolio.realized_pnl(),
        "unrealized_pnl": portfolio.unrealized_pnl(marks),
        "fees": portfolio.fees,
        "fills": portfolio.fills,
        "equity_history": points,
        "positions": positions,
        "pending_orders": pending,
        "decisions": [
            {
                "ts": d.ts,
                "symbol": d.symbol,
                "action": d.action.value,
                "confidence": d.confidence,
                "reason": d.reason,
                "votes": [v.model_dump(mode="json") for v in d.votes],
            }
            for d in recent
        ],
        "paused": dict(pause.value) if pause else {"on": False},
        "protections": _protections(state, settings.account, now),
        "kill_switch": dict(kill.value) if kill else {"on": False},
        "circuit_breakers": breakers,
        "last_cycle": {
            "ts": last_ts,
            "late_s": late_s,
            "late": last_ts is None or (late_s is not None and late_s >= periods * tf),
            "late_after_s": periods * tf,
        },
        "sells": sum(1 for e in events if isinstance(e.payload, FillRecorded) and e.payload.fill.side is Side.SELL),
    }
