"""The protections: cooldown after a stop-loss, the stop-loss guard, the max-drawdown guard, computed from
the exits alone (so the same ledger gives the same pauses wherever it is read)."""

from __future__ import annotations

import pytest

from coinswarm.domain.models import ExitReason, Fill, Side
from coinswarm.domain.protections import (
    EVERY_SYMBOL,
    ExitTape,
    ProtectionRules,
    blocking,
    pauses_at,
)

T0 = 1_700_000_040
MIN = 60


def fill(
    n: int,
    side: Side,
    price: float,
    ts: int,
    *,
    symbol: str = "BTC-USD",
    qty: float = 1.0,
    fee: float = 0.0,
    reason: ExitReason | None = None,
) -> Fill:
    return Fill(
        fill_id=f"f{n}",
        client_order_id=f"o{n}",
        symbol=symbol,
        side=side,
        quantity=qty,
        price=price,
        fee=fee,
        ts=ts,
        exit_reason=reason,
    )


def tape_of(*trades: tuple[float, float, int, ExitReason], symbol: str = "BTC-USD", cash: float = 1_000.0) -> ExitTape:
    """Round trips of one unit: (entry price, exit price, exit ts, reason)."""
    tape = ExitTape()
    tape.deposit(cash)
    for n, (entry, exit_, ts, reason) in enumerate(trades):
        tape.add(fill(2 * n, Side.BUY, entry, ts - MIN, symbol=symbol))
        tape.add(fill(2 * n + 1, Side.SELL, exit_, ts, symbol=symbol, reason=reason))
    return tape


def test_an_exits_profit_carries_its_share_of_the_entry_cost_and_both_fees() -> None:
    tape = ExitTape()
    tape.deposit(1_000)
    tape.add(fill(1, Side.BUY, 100, T0, qty=2, fee=2))  # cost 202
    half = tape.add(fill(2, Side.SELL, 110, T0 + MIN, fee=1.1, reason=ExitReason.ROI))
    assert half is not None and half.profit == pytest.approx(110 - 1.1 - 101)
    rest = tape.add(fill(3, Side.SELL, 90, T0 + 2 * MIN, fee=0.9, reason=ExitReason.STOP_LOSS))
    assert rest is not None and rest.profit == pytest.approx(90 - 0.9 - 101)
    assert rest.equity == pytest.approx(1_000 + half.profit + rest.profit)


def test_cooldown_pauses_the_symbol_for_n_candles_after_a_stop_loss() -> None:
    rules = ProtectionRules(timeframe_s=300, cooldown_candles=3)
    exits = tape_of((100, 90, T0, ExitReason.STOP_LOSS)).exits
    (pause,) = pauses_at(rules, exits, T0 + 1)
    assert (pause.protection, pause.scope, pause.since_ts, pause.until_ts) == ("cooldown", "BTC-USD", T0, T0 + 900)
    assert blocking([pause], "BTC-USD", T0 + 899) is pause
    assert blocking([pause], "ETH-USD", T0 + 1) is None
    assert pauses_at(rules, exits, T0 + 900) == []


def test_no_cooldown_after_an_exit_that_was_not_a_stop_loss() -> None:
    rules = ProtectionRules(timeframe_s=300, cooldown_candles=3)
    for reason in (ExitReason.SIGNAL, ExitReason.ROI, ExitReason.FLATTEN):
        assert pauses_at(rules, tape_of((100, 90, T0, reason)).exits, T0 + 1) == []


def test_stop_loss_guard_counts_stops_within_its_lookback_and_pauses_from_the_last() -> None:
    rules = ProtectionRules(guard_trades=2, guard_lookback_s=60 * MIN, guard_pause_s=30 * MIN)
    close = tape_of((100, 90, T0, ExitReason.STOP_LOSS), (100, 95, T0 + 50 * MIN, ExitReason.TRAILING_STOP)).exits
    (pause,) = pauses_at(rules, close, T0 + 51 * MIN)
    assert pause.protection == "stop_loss_guard" and pause.scope == "BTC-USD"
    assert (pause.since_ts, pause.until_ts) == (T0 + 50 * MIN, T0 + 80 * MIN)
    apart = tape_of((100, 90, T0, ExitReason.STOP_LOSS), (100, 95, T0 + 61 * MIN, ExitReason.STOP_LOSS)).exits
    assert pauses_at(rules, apart, T0 + 62 * MIN) == []


def test_a_trailing_stop_that_took_a_profit_is_not_a_stop_loss() -> None:
    rules = ProtectionRules(guard_trades=2, guard_lookback_s=60 * MIN, guard_pause_s=30 * MIN)
    exits = tape_of((100, 90, T0, ExitReason.STOP_LOSS), (100, 105, T0 + MIN, ExitReason.TRAILING_STOP)).exits
    assert pauses_at(rules, exits, T0 + 2 * MIN) == []


def test_stop_loss_guard_across_symbols_pauses_every_symbol() -> None:
    rules = ProtectionRules(guard_trades=2, guard_lookback_s=60 * MIN, guard_pause_s=30 * MIN, guard_per_symbol=False)
    tape = tape_of((100, 90, T0, ExitReason.STOP_LOSS))
    tape.add(fill(9, Side.BUY, 10, T0, symbol="ETH-USD"))
    tape.add(fill(10, Side.SELL, 9, T0 + MIN, symbol="ETH-USD", reason=ExitReason.STOP_LOSS))
    (pause,) = pauses_at(rules, tape.exits, T0 + 2 * MIN)
    assert pause.scope == EVERY_SYMBOL and blocking([pause], "SOL-USD", T0 + 2 * MIN) is pause
    per_symbol = ProtectionRules(guard_trades=2, guard_lookback_s=60 * MIN, guard_pause_s=30 * MIN)
    assert pauses_at(per_symbol, tape.exits, T0 + 2 * MIN) == []


def test_max_drawdown_of_the_realized_equity_within_the_lookback_pauses_every_entry() -> None:
    rules = ProtectionRules(max_drawdown_pct=5.0, drawdown_lookback_s=120 * MIN, drawdown_pause_s=60 * MIN)
    # 1,000 -> 1,040 (a win) -> 1,010 -> 985: 5.29 % below the 1,040 peak
    trades = [(100, 140, T0, ExitReason.ROI), (100, 70, T0 + 30 * MIN, ExitReason.STOP_LOSS)]
    assert pauses_at(rules, tape_of(*trades).exits, T0 + 31 * MIN) == []  # 2.9 %
    trades.append((100, 75, T0 + 60 * MIN, ExitReason.SIGNAL))
    (pause,) = pauses_at(rules, tape_of(*trades).exits, T0 + 61 * MIN)
    assert pause.protection == "max_drawdown" and pause.scope == EVERY_SYMBOL
    assert (pause.since_ts, pause.until_ts) == (T0 + 60 * MIN, T0 + 120 * MIN)
    assert "5.29 %" in pause.reason
    assert pauses_at(rules, tape_of(*trades).exits, T0 + 120 * MIN) == []  # it ended


def test_a_drawdown_spread_wider_than_the_lookback_does_not_count() -> None:
    rules = ProtectionRules(max_drawdown_pct=5.0, drawdown_lookback_s=60 * MIN, drawdown_pause_s=60 * MIN)
    trades = [
        (100, 140, T0, ExitReason.ROI),
        (100, 70, T0 + 70 * MIN, ExitReason.STOP_LOSS),
        (100, 75, T0 + 140 * MIN, ExitReason.SIGNAL),
    ]
    assert pauses_at(rules, tape_of(*trades).exits, T0 + 141 * MIN) == []


def test_all_off_by_default() -> None:
    exits = tape_of(*[(100, 50, T0 + i * MIN, ExitReason.STOP_LOSS) for i in range(5)]).exits
    assert not ProtectionRules().enabled and pauses_at(ProtectionRules(), exits, T0 + 5 * MIN) == []
