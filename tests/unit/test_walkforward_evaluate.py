"""A walk-forward window is judged as the bot trades: every symbol in one account (the portfolio
backtest), not each symbol alone with a share of the cash."""

from __future__ import annotations

from coinswarm.backtest.engine import BacktestOptions, run_backtest
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle, Fill, Side
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.research.walkforward import evaluate, market_from

START = 1_514_764_800
CASH = 10_000.0


def window() -> dict[str, list[Candle]]:
    data = {
        symbol: synthetic_candles(symbol, 1_000, seed=21 + i, start_ts=START, timeframe_s=300)
        for i, symbol in enumerate(("AAA-USD", "BBB-USD", "CCC-USD"))
    }
    market = market_from(data)
    return market.window(range(0, market.bars))


def all_in() -> Settings:
    """Each buy spends all the cash there is, and the committee buys readily."""
    return Settings.model_validate(
        {
            "sizing": {"buy_fraction": 1.0},
            "committee": {"threshold": 0.3, "quorum": 1},
            "risk": {"max_position_notional": 1e9, "max_total_exposure": 1e9, "max_daily_loss": 1e9},
        }
    )


def most_held_at_once(fills: list[Fill]) -> int:
    held: dict[str, float] = {}
    most = 0
    for f in sorted(fills, key=lambda f: f.ts):
        held[f.symbol] = held.get(f.symbol, 0.0) + (f.quantity if f.side is Side.BUY else -f.quantity)
        most = max(most, sum(q > 1e-9 for q in held.values()))
    return most


def test_a_window_is_one_portfolio_backtest() -> None:
    candles, settings = window(), all_in()
    result = evaluate(settings, candles, CASH)
    portfolio = run_backtest(candles, settings, BacktestOptions(cash=CASH))
    assert result.fills == portfolio.fills
    assert result.equity == portfolio.equity
    assert result.ts == portfolio.ts
    assert {f.symbol for f in result.fills} == set(candles)  # every symbol traded


def test_the_symbols_share_one_cash_balance() -> None:
    """All-in buys: in one account the first position takes all the cash, so no second one opens
    while it is held; each symbol backtested alone on a share of the cash would hold all three."""
    candles, settings = window(), all_in()
    alone = [f for c in candles.values() for f in run_backtest(c, settings, BacktestOptions(cash=CASH / 3)).fills]
    assert most_held_at_once(alone) > 1  # the windows do overlap, so the check below could fail
    assert most_held_at_once(evaluate(settings, candles, CASH).fills) == 1


def test_buy_and_hold_given_from_an_earlier_trial_is_the_same() -> None:
    candles, settings = window(), all_in()
    first = evaluate(settings, candles, CASH)
    again = evaluate(settings, candles, CASH, buy_hold=first.buy_hold)
    assert again.buy_hold is first.buy_hold
    assert again.figures() == first.figures()
    # Buy-and-hold splits the cash equally over the symbols at the first close.
    assert first.buy_hold[0] == CASH


def test_a_markets_candles_are_equal_and_carry_nothing_per_instance_beyond_their_fields() -> None:
    candles = synthetic_candles("AAA-USD", 50, seed=3, start_ts=START, timeframe_s=300)
    made = market_from({"AAA-USD": candles}).series["AAA-USD"]
    assert made == candles
    assert not any(hasattr(c, "__dict__") for c in made)  # slots only: no dict, no set of field names
    changed = made[0].model_copy(update={"close": made[0].close * 1.01})
    assert changed.close != made[1].close and made[1].close == candles[1].close  # a copy shares nothing it changes
