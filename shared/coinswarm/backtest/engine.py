"""The backtest engine: the fused stages over a replayed history, on a simulated clock, with the
in-memory store and the paper broker. Nothing here decides or fills differently from a live cycle:
the engine only advances the clock, applies the exit rules bar by bar (backtest.exits), values the
account at each close, and closes what is still open at the end (at the last close, with the fee)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.backtest.exits import ExitingBroker
from coinswarm.backtest.metrics import Metrics, compute
from coinswarm.config.settings import TIMEFRAMES, Settings
from coinswarm.domain.models import Candle, ExitReason, Fill, FillRecorded, Side
from coinswarm.domain.risk import RiskLimits, limits_from
from coinswarm.gc_pause import collector_paused
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.agent_memory import InProcessAgentMemory
from coinswarm.stages.messages import SCORES, CycleTick, PlacementDone
from coinswarm.wiring.bootstrap import build_app
from coinswarm.wiring.fused import run_fused

Strategy = Literal["committee", "sma-cross"]
WINDOW = 16_384  # candles per tick: each stage loops over them instead of passing messages bar by bar
REFERENCE_MIN_ORDER = 0.01
FULL_EQUITY = 1 - sys.float_info.epsilon  # what backtesting.py's buy() spends by default; sma-cross too


@dataclass(frozen=True, slots=True)
class BacktestOptions:
    strategy: Strategy = "committee"
    fast: int = 10
    slow: int = 20
    cash: float | None = None
    fee_bps: float | None = None
    slippage_bps: float | None = None
    max_gap: int | None = None
    # [exits] settings that replace the configuration's (ExitConfig field -> value, e.g. stop_loss_pct)
    exits: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class BacktestResult:
    symbol: str
    strategy: Strategy
    timeframe_s: int
    metrics: Metrics
    ts: list[int]
    equity: list[float]
    fills: list[Fill]
    gaps: list[str]
    elapsed_s: float
    decisions: int
    rejections: int
    cache_hits: int = 0
    cache_misses: int = 0
    exits: dict[str, Any] = field(default_factory=dict)  # the exit settings the run used
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_reasons(self) -> dict[str, int]:
        """How many sell fills each exit reason had (ExitReason values), most frequent first."""
        counted = Counter(f.exit_reason.value for f in self.fills if f.side is Side.SELL and f.exit_reason)
        return dict(counted.most_common())

    def to_json(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "symbol": self.symbol,
            "strategy": self.strategy,
            "bars": m.bars,
            "trades": m.trades,
            "start_equity": round(m.start_equity, 8),
            "final_equity": round(m.final_equity, 8),
            "return_pct": round(m.return_pct, 6),
            "max_drawdown_pct": round(m.max_drawdown_pct, 6),
            "sharpe": round(m.sharpe, 6),
            "win_rate_pct": round(m.win_rate_pct, 6),
            "exposure_pct": round(m.exposure_pct, 6),
            "fees": round(m.fees, 8),
            "fills": len(self.fills),
            "risk_rejections": self.rejections,
            "gaps": len(self.gaps),
            "exit_reasons": self.exit_reasons,
            "exits": self.exits,
            "pattern_cache": {"hits": self.cache_hits, "misses": self.cache_misses},
            "elapsed_s": round(self.elapsed_s, 4),
        }


def backtest_settings(base: Settings, opts: BacktestOptions, symbol: str, timeframe_s: int) -> Settings:
    label = next((k for k, v in TIMEFRAMES.items() if v == timeframe_s), None)
    if label is None:
        raise ValueError(f"candles {timeframe_s} s apart: Coinswarm trades on {', '.join(TIMEFRAMES)} candles")
    data = base.model_dump()
    data.update(symbols=[symbol], timeframe=label, wiring="fused")
    data["store"] = {"backend": "memory", "path": ":memory:"}
    data["paper"].update(
        {
            k: v
            for k, v in (
                ("starting_cash", opts.cash),
                ("fee_bps", opts.fee_bps),
                ("slippage_bps", opts.slippage_bps),
            )
            if v is not None
        }
    )
    if opts.max_gap is not None:
        data["market"]["max_bridged_gap"] = opts.max_gap
    if opts.strategy == "sma-cross" and not base.exits.model_fields_set and not opts.exits:
        # The reference trades as backtesting.py does, on its crosses alone, unless exits are asked for
        # (an [exits] section, its environment variables, or a flag): then it takes them all, as the committee.
        data["exits"] = {"stop_loss_pct": None}
    data["exits"].update(opts.exits)
    data["market"]["warmup_candles"] = 1
    if opts.strategy == "sma-cross":
        data["committee"] = {
            "weights": {"sma_cross": 1.0},
            "quorum": 1,
            "threshold": 1.0,
            "cache": {"enabled": False},
        }
        data["agents"] = {"sma_cross": {"fast": opts.fast, "slow": opts.slow}}
        data["sizing"] = {"buy_notional": None, "buy_fraction": FULL_EQUITY, "sell_fraction": 1.0}
    return Settings.model_validate(data)


def run_backtest(
    candles: list[Candle],
    base: Settings,
    opts: BacktestOptions,
    *,
    label: str = "backtest",
    on_bar: Callable[[int], None] | None = None,
) -> BacktestResult:
    if not candles:
        raise ValueError("no candles to replay")
    symbol, timeframe_s = candles[0].symbol, candles[0].timeframe_s
    settings = backtest_settings(base, opts, symbol, timeframe_s)
    reference = opts.strategy == "sma-cross"
    limits = RiskLimits() if reference else limits_from(settings.risk)
    store = MemoryStore(max_decisions=100)  # the newest decisions, for a look at how the run ended
    clock = SimulatedClock(candles[0].ts)
    paper = PaperBroker(
        store,
        account=settings.account,
        starting_cash=settings.paper.starting_cash,
        fee_bps=settings.paper.fee_bps,
        slippage_bps=settings.paper.slippage_bps,
        # The reference strategy has no risk limits, but a buy of the dust left after an all-in buy
        # (a missed down-cross on an exact SMA tie, then another up-cross) is refused, as
        # backtesting.py refuses less than one unit.
        min_order_notional=REFERENCE_MIN_ORDER if reference else settings.risk.min_order_notional,
    )
    exits = settings.exits
    broker = ExitingBroker(paper, candles, exits.rules(), exit_on_signal=exits.exit_on_signal)
    app = build_app(
        settings,
        market=ReplayMarketData({symbol: candles}, label=label),
        store=store,
        clock=clock,
        broker=broker,
        agent_memory=InProcessAgentMemory(),
        limits=limits,
    )
    routes = app.stages.routes()
    symbols = (symbol,)
    seen_gaps: list[str] = []

    def tap(topic: str, message: Any) -> None:
        if topic == SCORES and message.gaps:
            seen_gaps.extend(message.gaps)

    started = time.perf_counter()
    # The first tick takes the first candle alone (a fresh store has no history to fetch since);
    # then each tick asks for the next window of candles and decides at every close in it.
    bounds = [1, *range(1 + WINDOW, len(candles), WINDOW), len(candles)] if len(candles) > 1 else [1]
    # With half a million candles alive, the cyclic collector's passes took about a quarter of the run;
    # the replay's garbage has no cycles, so reference counting frees it while the collector rests.
    with collector_paused():
        for end in bounds:
            ts = candles[end - 1].close_ts
            clock.set(ts)
            run_fused(routes, CycleTick(cycle_id=f"bt-{ts}", ts=ts, symbols=symbols, decide_each=True), tap)
            if on_bar is not None:
                on_bar(end)
        _close_at_end(app, broker, candles[-1])
        fills = [e.payload.fill for e in app.ledger.events() if isinstance(e.payload, FillRecorded)]
        equity, exposed = equity_curve(candles, fills, settings.paper.starting_cash)
        metrics = compute(
            equity, fills, exposed_bars=exposed, timeframe_s=timeframe_s, start_equity=settings.paper.starting_cash
        )
    elapsed = time.perf_counter() - started
    cache = app.cache
    return BacktestResult(
        symbol=symbol,
        strategy=opts.strategy,
        timeframe_s=timeframe_s,
        metrics=metrics,
        ts=[c.ts + timeframe_s for c in candles],
        equity=equity,
        fills=fills,
        gaps=seen_gaps,
        elapsed_s=elapsed,
        decisions=len(candles),
        rejections=len(store.recent_rejections(10**9)),
        cache_hits=cache.hits if cache else 0,
        cache_misses=cache.misses if cache else 0,
        exits=exits.model_dump(mode="json"),
    )


def equity_curve(candles: list[Candle], fills: list[Fill], cash: float) -> tuple[list[float], int]:
    """The account's value at every close, and how many bars held a position, rebuilt from the fills
    (each happens at a bar's open; the final exit at the last close)."""
    equity: list[float] = []
    held, exposed = 0.0, 0
    i, n = 0, len(fills)

    def apply_until(limit: int) -> None:
        nonlocal i, cash, held
        while i < n and fills[i].ts <= limit:
            f = fills[i]
            if f.side is Side.BUY:
                cash -= f.quantity * f.price + f.fee
                held += f.quantity
            else:
                cash += f.quantity * f.price - f.fee
                held = max(0.0, held - f.quantity)
            i += 1

    for candle in candles:
        apply_until(candle.ts)
        exposed += held > 1e-12
        equity.append(cash + held * candle.close)
    apply_until(candles[-1].close_ts)
    equity[-1] = cash + held * candles[-1].close
    return equity, exposed


def _close_at_end(app: Any, broker: ExitingBroker, last: Candle) -> None:
    """Orders still pending at the end never fill (there is no next open); a position still open is
    sold at the last close, with fee and slippage as usual, for the reason `end_of_backtest`."""
    for order in broker.pending(last.symbol):
        broker.cancel(order.client_order_id)
    fills = broker.exit_now(last.symbol, last.close, last.close_ts, ExitReason.END_OF_BACKTEST)
    if fills:
        app.stages.ledger.handle(
            PlacementDone(cycle_id="bt-end", symbol=last.symbol, fills=tuple(fills), mark_price=last.close)
        )
