"""The backtest engine: the fused stages over a replayed history, on a simulated clock, with the
in-memory store and the paper broker. Nothing here decides or fills differently from a live cycle:
the engine only advances the clock, applies the exit rules bar by bar (backtest.exits), values the
account at each close, and closes what is still open at the end (at the last close, with the fee).

One symbol or several into one account (a portfolio): the symbols share the cash and the risk limits,
and at every bar time each symbol's decision is placed in the configured order, as a live cycle places
them. Scoring and voting run a window of bars per symbol at once (they read nothing placement writes);
with several symbols their decisions are then placed bar by bar across the symbols, in time order."""

from __future__ import annotations

import heapq
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.backtest.exits import ExitingBroker
from coinswarm.backtest.metrics import Metrics, compute
from coinswarm.config.settings import TIMEFRAMES, Settings
from coinswarm.domain.models import Candle, ExitReason, Fill, FillRecorded, Side
from coinswarm.domain.risk import RiskLimits, limits_from
from coinswarm.domain.votes import votes_text
from coinswarm.gc_pause import collector_paused
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.agent_memory import InProcessAgentMemory
from coinswarm.stages.messages import (
    DECISIONS,
    PLACEMENTS,
    SCORES,
    CycleTick,
    DecidedStep,
    DecisionReady,
    Message,
    PlacementDone,
    worth_logging,
)
from coinswarm.stages.outbox import NO_OUTBOX
from coinswarm.stages.placement import PlacementSession, PlacementStage
from coinswarm.wiring.bootstrap import Route, build_app
from coinswarm.wiring.fused import Tap, dispatch, run_fused

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
    symbol: str  # the symbols, comma-separated, for a portfolio
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
    symbols: tuple[str, ...] = ()  # in the configured order
    closes: dict[str, list[float]] = field(default_factory=dict)  # each symbol's close at every bar of `ts`

    @property
    def exit_reasons(self) -> dict[str, int]:
        """How many sell fills each exit reason had (ExitReason values), most frequent first."""
        counted = Counter(f.exit_reason.value for f in self.fills if f.side is Side.SELL and f.exit_reason)
        return dict(counted.most_common())

    def to_json(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "symbol": self.symbol,
            "symbols": list(self.symbols or (self.symbol,)),
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


def backtest_settings(base: Settings, opts: BacktestOptions, symbol: str | Sequence[str], timeframe_s: int) -> Settings:
    label = next((k for k, v in TIMEFRAMES.items() if v == timeframe_s), None)
    if label is None:
        raise ValueError(f"candles {timeframe_s} s apart: Coinswarm trades on {', '.join(TIMEFRAMES)} candles")
    data = base.model_dump()
    symbols = [symbol] if isinstance(symbol, str) else list(symbol)
    data.update(symbols=symbols, timeframe=label, wiring="fused")
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


Series = Sequence[Candle] | Mapping[str, Sequence[Candle]]


def as_series(candles: Series) -> dict[str, Sequence[Candle]]:
    """symbol -> candles, from one symbol's candles or a mapping; each series non-empty, one timeframe."""
    series = dict(candles) if isinstance(candles, Mapping) else {candles[0].symbol: candles} if candles else {}
    if not series or not all(series.values()):
        raise ValueError("no candles to replay")
    frames = {c[0].timeframe_s for c in series.values()}
    if len(frames) != 1:
        listed = ", ".join(f"{sym} {c[0].timeframe_s} s" for sym, c in series.items())
        raise ValueError(f"a portfolio backtest replays one timeframe; these files mix {listed}")
    return series


def run_backtest(
    candles: Series,
    base: Settings,
    opts: BacktestOptions,
    *,
    label: str = "backtest",
    on_bar: Callable[[int], None] | None = None,
    store: MemoryStore | None = None,
    keep_episodes: bool = False,
) -> BacktestResult:
    """Replay one symbol's candles, or several symbols' (symbol -> candles) into one account.
    `on_bar(n)`: n bar times of the run's time grid are done; `keep_episodes`: record an episode per
    closed trade in `store` (coinswarm.learning.backtest_episodes asks for them)."""
    series = as_series(candles)
    symbols = tuple(series)
    first = next(iter(series.values()))
    timeframe_s = first[0].timeframe_s
    settings = backtest_settings(base, opts, symbols, timeframe_s)
    reference = opts.strategy == "sma-cross"
    limits = RiskLimits() if reference else limits_from(settings.risk)
    if store is None:
        store = MemoryStore(max_decisions=100)  # the newest decisions, for a look at how the run ended
    clock = SimulatedClock(min(c[0].ts for c in series.values()))
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
    broker = ExitingBroker(paper, series, exits.rules(), exit_on_signal=exits.exit_on_signal)
    app = build_app(
        settings,
        market=ReplayMarketData(series, label=label),
        store=store,
        clock=clock,
        broker=broker,
        agent_memory=InProcessAgentMemory(),
        limits=limits,
    )
    # A backtest hands each message on once, in this process: nothing to keep for a redelivery (a
    # portfolio places one message per symbol and bar, where a claim on each would double the cost).
    app.stages.placement.outbox = NO_OUTBOX
    if not keep_episodes:
        # Keeping an episode folds the symbol's recent history again at every sell (as a live cycle
        # does, once a cycle): a third of a long backtest's time, for episodes it was not asked for.
        app.stages.ledger.episodes = None
    routes = app.stages.routes()
    seen_gaps: list[str] = []

    votes: dict[str, str] = {}  # each buy's intent id (its order's id) -> the committee's votes then

    def tap(topic: str, message: Any) -> None:
        if topic == SCORES and message.gaps:
            seen_gaps.extend(message.gaps)
        elif topic == DECISIONS:
            for step in message.steps:
                if step.intent is not None and step.intent.side is Side.BUY and step.decision is not None:
                    votes[step.intent.intent_id] = votes_text(step.decision)

    started = time.perf_counter()
    with collector_paused():
        if len(series) == 1:
            _replay_one(routes, first, symbols, clock, tap, on_bar)
        else:
            _replay_portfolio(
                routes,
                app.stages.placement,
                series,
                _time_grid(series),
                timeframe_s,
                symbols,
                clock,
                broker,
                tap,
                on_bar,
            )
        for symbol in sorted(symbols, key=lambda sym: (series[sym][-1].close_ts, symbols.index(sym))):
            _close_at_end(app, broker, series[symbol][-1])
        fills = [e.payload.fill for e in app.ledger.events() if isinstance(e.payload, FillRecorded)]
        start_cash = settings.paper.starting_cash
        if len(series) == 1:
            equity, exposed = equity_curve(list(first), fills, start_cash)
            bar_ts = [c.ts + timeframe_s for c in first]
            closes = {symbols[0]: [c.close for c in first]}
        else:
            bar_ts, closes = _aligned_closes(series, timeframe_s)
            equity, exposed = portfolio_equity(bar_ts, closes, fills, start_cash, timeframe_s)
        metrics = compute(equity, fills, exposed_bars=exposed, timeframe_s=timeframe_s, start_equity=start_cash)
    elapsed = time.perf_counter() - started
    cache = app.cache
    return BacktestResult(
        symbol=",".join(symbols),
        strategy=opts.strategy,
        timeframe_s=timeframe_s,
        metrics=metrics,
        ts=bar_ts,
        equity=equity,
        fills=fills,
        gaps=seen_gaps,
        elapsed_s=elapsed,
        decisions=sum(len(c) for c in series.values()),
        rejections=len(store.recent_rejections(10**9)),
        cache_hits=cache.hits if cache else 0,
        cache_misses=cache.misses if cache else 0,
        exits=exits.model_dump(mode="json"),
        symbols=symbols,
        closes=closes,
        extra={"votes": votes},
    )


def _replay_one(
    routes: Mapping[str, Route],
    candles: Sequence[Candle],
    symbols: tuple[str, ...],
    clock: SimulatedClock,
    tap: Tap,
    on_bar: Callable[[int], None] | None,
) -> None:
    # The first tick takes the first candle alone (a fresh store has no history to fetch since);
    # then each tick asks for the next window of candles and decides at every close in it.
    bounds = [1, *range(1 + WINDOW, len(candles), WINDOW), len(candles)] if len(candles) > 1 else [1]
    # With half a million candles alive, the cyclic collector's passes took about a quarter of the run;
    # the replay's garbage has no cycles, so reference counting frees it while the collector rests.
    for end in bounds:
        ts = candles[end - 1].close_ts
        clock.set(ts)
        run_fused(routes, CycleTick(cycle_id=f"bt-{ts}", ts=ts, symbols=symbols, decide_each=True), tap)
        if on_bar is not None:
            on_bar(end)


def _time_grid(series: Mapping[str, Sequence[Candle]]) -> list[int]:
    """Every bar open time of any symbol, in order."""
    return sorted({c.ts for candles in series.values() for c in candles})


def _replay_portfolio(
    routes: Mapping[str, Route],
    placement: PlacementStage,
    series: Mapping[str, Sequence[Candle]],
    grid: list[int],
    timeframe_s: int,
    symbols: tuple[str, ...],
    clock: SimulatedClock,
    broker: ExitingBroker,
    tap: Tap,
    on_bar: Callable[[int], None] | None,
) -> None:
    """Like `_replay_one`, over the symbols' common time grid; each window's decisions are held back
    from placement and placed in time order, each bar's symbols in the configured order."""
    held: list[DecisionReady] = []

    def hold(message: Message) -> list[tuple[str, Message]]:
        assert isinstance(message, DecisionReady)
        held.append(message)
        return []

    deciding = {**routes, DECISIONS: hold}
    # A symbol's first candle comes alone, in a tick that ends at its close (a fresh store has no history
    # of it to fetch since, and a later tick would fetch only its most recent candles).
    position = {t: i for i, t in enumerate(grid)}
    starts = {position[candles[0].ts] + 1 for candles in series.values()}
    bounds = sorted({*starts, *range(1 + WINDOW, len(grid), WINDOW), len(grid)})
    for end in bounds:
        ts = grid[end - 1] + timeframe_s
        clock.set(ts)
        run_fused(deciding, CycleTick(cycle_id=f"bt-{ts}", ts=ts, symbols=symbols, decide_each=True), tap)
        _place_in_time_order(routes, placement, held, symbols, broker, tap)
        held.clear()
        if on_bar is not None:
            on_bar(end)


def _place_in_time_order(
    routes: Mapping[str, Route],
    placement: PlacementStage,
    decided: list[DecisionReady],
    symbols: tuple[str, ...],
    broker: ExitingBroker,
    tap: Tap,
) -> None:
    """Place each decision point at its time, the symbols of one time in the configured order, as a
    live cycle would, in as few messages as give the same ledger. A point of a symbol that holds
    nothing, has nothing pending and only holds touches nothing another symbol reads (no fill, no
    order, no value in the account), nor does it change that the symbol holds nothing. So a run of one
    symbol's points goes to placement in one message while all the other symbols would do in between
    is such points: when the others all hold nothing, up to the next point of theirs that acts; and a
    run of holds of a symbol that holds nothing, whatever the others do.

    While several symbols hold positions, a held symbol's points that only watch its position (no
    intent, no order due, no exit rule firing: ExitingBroker.quiet_run) change nothing another symbol
    reads either, but the newest price the book is shown: they are settled at once (`watched`), up to the
    next point of another symbol that may act on the account (an intent, an order due, a rule firing).
    Every other point goes to placement alone, in time order, through the symbol's placement session."""
    points: dict[str, list[DecidedStep]] = {}
    cycle_of: dict[str, str] = {}
    for d in decided:
        points.setdefault(d.symbol, []).extend(d.steps)
        cycle_of[d.symbol] = d.cycle_id
    rank = {symbol: i for i, symbol in enumerate(symbols)}
    runs = {symbol: _Points(symbol, steps, rank[symbol]) for symbol, steps in points.items() if steps}
    others_of = {symbol: [other for other in runs.values() if other is not run] for symbol, run in runs.items()}
    flat, positions = broker.flat, broker.positions
    # The symbols that hold or have pending orders and still have points to place: only a symbol's own
    # placement changes whether it is flat, so this is kept as each message is placed.
    busy = {symbol for symbol in runs if not flat(symbol)}
    # one placement session per symbol for the window: placing a message of one point then costs about
    # what a point costs inside a long message
    sessions: dict[str, PlacementSession] = {}
    heads = [(run.steps[0].ts, run.rank, symbol) for symbol, run in runs.items()]
    heapq.heapify(heads)
    pop, push = heapq.heappop, heapq.heappush
    while heads:
        _, r, symbol = pop(heads)
        run = runs[symbol]
        at, steps = run.at, run.steps
        session = sessions.get(symbol)
        if session is None:
            session = sessions[symbol] = placement.session(symbol, cycle_of[symbol])
        if len(busy) - (symbol in busy) == 0:  # every other symbol is flat, or done with the window
            end = run.until(min((other.next_act() for other in others_of[symbol]), default=_NEVER))
        elif symbol not in busy and steps[at].intent is None:
            end = run.next_act_index()
        else:
            quiet = run.quiet_end(broker)
            if quiet > at:  # points that only watch the position: nothing to place, up to the others' next event
                limit = min((o.next_event(broker, busy) for o in others_of[symbol] if o.at < o.n), default=_NEVER)
                end = run.until(limit, quiet)
                broker.watched(symbol, steps, at, end)
                run.at = end
                if end < run.n:
                    push(heads, (steps[end].ts, r, symbol))
                else:
                    busy.discard(symbol)
                continue
            end = at + 1
        if steps[at].intent is not None if end == at + 1 else run.next_act_index() < end:
            # what the tap keeps of a decision: the votes of a buy
            tap(DECISIONS, DecisionReady(cycle_id=cycle_of[symbol], symbol=symbol, steps=tuple(steps[at:end])))
        run.at, run.quiet = end, -1
        placed = session.place_one(steps[at]) if end == at + 1 else session.place(steps, at, end)
        if placed is not None and worth_logging(placed):  # most bars fill nothing: nothing for the ledger
            dispatch(routes, PLACEMENTS, placed, tap)
        if end < run.n:
            push(heads, (steps[end].ts, r, symbol))
            held = positions[symbol]
            if held.held <= 0.0 and not held.due:  # broker.flat(symbol)
                busy.discard(symbol)
            else:
                busy.add(symbol)
        else:
            busy.discard(symbol)


_NEVER = (sys.maxsize, 0)  # the (time, rank) after every point


class _Points:
    """One symbol's decision points of a window, placed up to `at`, and which of them act (carry an
    intent)."""

    __slots__ = ("acts", "at", "k", "n", "quiet", "rank", "steps", "symbol")

    def __init__(self, symbol: str, steps: list[DecidedStep], rank: int) -> None:
        self.symbol, self.steps, self.n, self.rank, self.at = symbol, steps, len(steps), rank, 0
        self.acts = [i for i, step in enumerate(steps) if step.intent is not None]
        self.k = 0  # acts[k] is the first acting point not placed yet
        self.quiet = -1  # the end of the points from `at` that only watch the position (-1: not known)

    def quiet_end(self, broker: ExitingBroker) -> int:
        """The index of the first point not placed yet that may do more than watch the symbol's position
        (ExitingBroker.quiet_run; known until the symbol places a point)."""
        if self.quiet < self.at:
            self.quiet = broker.quiet_run(self.symbol, self.steps, self.at)
        return self.quiet

    def next_event(self, broker: ExitingBroker, busy: set[str]) -> tuple[int, int]:
        """The (time, rank) of this symbol's next point that may act on the account: its next intent when
        it is flat, else the end of its quiet points."""
        if self.symbol not in busy:
            return self.next_act()
        i = self.quiet_end(broker)
        return (self.steps[i].ts, self.rank) if i < self.n else _NEVER

    def next_act_index(self) -> int:
        """The index of the first point not placed yet that acts (n when none does)."""
        acts, k = self.acts, self.k
        while k < len(acts) and acts[k] < self.at:
            k += 1
        self.k = k
        return acts[k] if k < len(acts) else self.n

    def next_act(self) -> tuple[int, int]:
        """The (time, rank) of that point: another symbol's run ends before it."""
        i = self.next_act_index()
        return (self.steps[i].ts, self.rank) if i < self.n else _NEVER

    def until(self, limit: tuple[int, int], stop: int | None = None) -> int:
        """The end of the run of points not placed yet that come before `limit` (at least one point), and
        before the index `stop` (by default the last point)."""
        steps, i, n = self.steps, self.at + 1, self.n if stop is None else stop
        limit_ts, limit_rank = limit
        while i < n and steps[i].ts < limit_ts:
            i += 1
        if i < n and self.rank < limit_rank and steps[i].ts == limit_ts:  # (ts, rank) < limit
            i += 1
        return i


def _aligned_closes(
    series: Mapping[str, Sequence[Candle]], timeframe_s: int
) -> tuple[list[int], dict[str, list[float]]]:
    """The close time of every bar of the grid, and each symbol's close there (its last close before
    carried over its gaps; its first close before it starts)."""
    grid = _time_grid(series)
    closes: dict[str, list[float]] = {}
    for symbol, candles in series.items():
        if len(candles) == len(grid) and all(c.ts == t for c, t in zip(candles, grid, strict=True)):
            closes[symbol] = [c.close for c in candles]  # a bar at every time of the grid
            continue
        out: list[float] = []
        i, n, last = 0, len(candles), candles[0].close
        for t in grid:
            while i < n and candles[i].ts <= t:
                last = candles[i].close
                i += 1
            out.append(last)
        closes[symbol] = out
    return [t + timeframe_s for t in grid], closes


def portfolio_equity(
    bar_ts: list[int], closes: Mapping[str, list[float]], fills: list[Fill], cash: float, timeframe_s: int
) -> tuple[list[float], int]:
    """The account's value at every close of the grid, and how many bars held any position. A fill
    counts from the bar it happened in (bars open at `close - timeframe_s`); the last bar counts all."""
    equity: list[float] = []
    held: dict[str, float] = dict.fromkeys(closes, 0.0)
    i, n, exposed = 0, len(fills), 0
    last = len(bar_ts) - 1
    holding: list[tuple[list[float], float]] = []  # each held symbol's closes and quantity, in `closes` order
    exposing = False
    for k, close_ts in enumerate(bar_ts):
        limit = close_ts - timeframe_s
        if i < n and (fills[i].ts <= limit or k == last):
            while i < n and (fills[i].ts <= limit or k == last):
                f = fills[i]
                if f.side is Side.BUY:
                    cash -= f.quantity * f.price + f.fee
                    held[f.symbol] += f.quantity
                else:
                    cash += f.quantity * f.price - f.fee
                    held[f.symbol] = max(0.0, held[f.symbol] - f.quantity)
                i += 1
            holding = [(closes[sym], q) for sym, q in held.items() if q]
            exposing = any(q > 1e-12 for q in held.values())
        exposed += exposing
        equity.append(cash + sum(q * c[k] for c, q in holding) if holding else cash)
    return equity, exposed


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
