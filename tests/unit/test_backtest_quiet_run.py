"""The backtest broker's quiet runs (ExitingBroker.quiet_run): how far a held position's points only watch
it, found ahead of time for the portfolio engine, and settling afterwards exactly as bar by bar."""

from __future__ import annotations

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.backtest.exits import ExitingBroker
from coinswarm.domain.exits import ExitRules
from coinswarm.domain.models import Action, Candle, Fill, Order, OrderIntent, Side
from coinswarm.stages.messages import DecidedStep

TF = 300
SYMBOL = "ETH-BTC"
# up, then drifting down: a 3 % trailing stop arms on the way up and fires on the way down
CLOSES = [100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0, 108.0, 107.5, 107.0, 106.0, 104.0, 101.0, 99.0]


def candles() -> list[Candle]:
    out, last = [], CLOSES[0]
    for i, close in enumerate(CLOSES):
        high, low = max(last, close) + 0.2, min(last, close) - 0.2
        out.append(
            Candle(symbol=SYMBOL, ts=i * TF, open=last, high=high, low=low, close=close, volume=1.0, timeframe_s=TF)
        )
        last = close
    return out


def points(bars: list[Candle], act_at: int | None = None) -> list[DecidedStep]:
    out = []
    for i, bar in enumerate(bars):
        intent = None
        if i == act_at:
            intent = OrderIntent(
                intent_id=f"cs-{SYMBOL}-{bar.ts}-s",
                symbol=SYMBOL,
                side=Side.SELL,
                fraction=1.0,
                reference_price=bar.close,
                ts=bar.close_ts,
            )
        action = Action.SELL if intent else Action.HOLD
        out.append(DecidedStep(bar.close_ts, action, 1.0, bar.open, bar.ts, bar.close, intent=intent, candle=bar))
    return out


def holding(bars: list[Candle]) -> ExitingBroker:
    """A broker that bought at the first bar's open and holds, its tracker open."""
    rules = ExitRules.build(stop_loss_pct=None, trailing_stop_pct=3.0)
    broker = ExitingBroker(PaperBroker(MemoryStore(), starting_cash=1_000.0), bars, rules)
    broker.submit(Order(client_order_id="cs-buy", symbol=SYMBOL, side=Side.BUY, notional=500.0, placed_ts=-TF))
    assert broker.settle(SYMBOL, bars[0].open, bars[0].ts).fills
    return broker


def settle_from(broker: ExitingBroker, steps: list[DecidedStep], start: int) -> list[tuple[int, list[Fill]]]:
    return [(i, broker.settle(SYMBOL, s.settle_price, s.settle_ts).fills) for i, s in enumerate(steps) if i >= start]


def test_a_quiet_run_ends_where_a_rule_fires_and_settling_then_fills_as_bar_by_bar() -> None:
    bars = candles()
    steps = points(bars)
    by_bar = settle_from(holding(bars), steps, 1)
    fired = next(i for i, fills in by_bar if fills)
    assert fired > 3, "the sample should hold quietly for a few bars first"

    ahead = holding(bars)
    quiet = ahead.quiet_run(SYMBOL, steps, 1)
    assert quiet == fired
    ahead.watched(SYMBOL, steps, 1, quiet)
    assert ahead.positions[SYMBOL].unshown == (steps[quiet - 1].settle_price, steps[quiet - 1].settle_ts)
    later = dict(settle_from(ahead, steps, quiet))
    assert [(f.price, f.quantity, f.exit_reason) for f in later[fired]] == [
        (f.price, f.quantity, f.exit_reason) for f in dict(by_bar)[fired]
    ]
    assert ahead.inner.account() == holding_after(bars, steps)


def holding_after(bars: list[Candle], steps: list[DecidedStep]) -> object:
    broker = holding(bars)
    settle_from(broker, steps, 1)
    return broker.inner.account()


def test_a_quiet_run_ends_at_an_intent_and_where_nothing_is_held() -> None:
    bars = candles()
    assert holding(bars).quiet_run(SYMBOL, points(bars, act_at=3), 1) == 3
    rules = ExitRules.build(stop_loss_pct=5.0)
    flat = ExitingBroker(PaperBroker(MemoryStore()), bars, rules)
    assert flat.quiet_run(SYMBOL, points(bars), 0) == 0  # nothing held: every point may do more
