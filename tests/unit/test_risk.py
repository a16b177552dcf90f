"""Every risk limit: refusals with reasons, reductions, the daily halt and the kill switch."""

import pytest

from coinswarm.domain.models import ExitReason, OrderIntent, Side
from coinswarm.domain.risk import AccountView, RiskDay, RiskLimits, check_order, moot_decision, roll_day

LIMITS = RiskLimits(
    max_position_notional=3_000,
    max_total_exposure=5_000,
    max_daily_loss=500,
    max_orders_per_day=3,
    min_order_notional=10,
)
DAY = RiskDay(day=0, start_equity=10_000)


def buy(notional: float = 1_000, symbol: str = "BTC-USD") -> OrderIntent:
    return OrderIntent(intent_id="i1", symbol=symbol, side=Side.BUY, notional=notional, reference_price=100, ts=60)


def sell(fraction: float = 1.0) -> OrderIntent:
    return OrderIntent(intent_id="i2", symbol="BTC-USD", side=Side.SELL, fraction=fraction, reference_price=100, ts=60)


def account(cash: float = 10_000, **positions: float) -> AccountView:
    pos = {k.replace("_", "-"): v for k, v in positions.items()}
    return AccountView(cash=cash, positions=pos, prices={s: 100.0 for s in pos} | {"BTC-USD": 100.0})


def test_a_plain_buy_is_approved_unchanged() -> None:
    v = check_order(buy(), account(), DAY, LIMITS, kill_switch=False)
    assert v.approved and v.intent == buy() and v.reason == "approved"


def test_kill_switch_stops_every_order() -> None:
    for intent in (buy(), sell()):
        v = check_order(intent, account(BTC_USD=5), DAY, LIMITS, kill_switch=True)
        assert not v.approved and "kill switch" in v.reason


def test_buy_is_reduced_to_the_position_limit() -> None:
    v = check_order(buy(1_000), account(BTC_USD=25), DAY, LIMITS, kill_switch=False)  # holds 2,500 of 3,000
    assert v.approved and v.intent is not None
    assert v.intent.notional == pytest.approx(500)
    assert "max_position_notional" in v.reason


def test_buy_refused_when_what_is_left_is_below_the_minimum() -> None:
    v = check_order(buy(1_000), account(BTC_USD=29.95), DAY, LIMITS, kill_switch=False)
    assert not v.approved and "below the minimum" in v.reason


def test_total_exposure_limit() -> None:
    v = check_order(buy(1_000, "ETH-USD"), account(BTC_USD=25, SOL_USD=22), DAY, LIMITS, kill_switch=False)
    assert v.approved and v.intent is not None
    assert v.intent.notional == pytest.approx(300)
    assert "max_total_exposure" in v.reason


def test_minimum_order_size() -> None:
    v = check_order(buy(5), account(), DAY, LIMITS, kill_switch=False)
    assert not v.approved and "below the minimum 10.00" in v.reason


def test_max_orders_per_day() -> None:
    v = check_order(buy(), account(), RiskDay(0, 10_000, orders=3), LIMITS, kill_switch=False)
    assert not v.approved and "3 orders today" in v.reason


def test_daily_loss_halts_trading_for_the_rest_of_the_day() -> None:
    down = AccountView(cash=9_400, positions={}, prices={})  # lost 600 since the day began
    v = check_order(buy(), down, DAY, LIMITS, kill_switch=False)
    assert not v.approved and v.day is not None and v.day.halted
    again = check_order(buy(), account(), v.day, LIMITS, kill_switch=False)  # even after a recovery
    assert not again.approved and "rest of the day" in again.reason
    tomorrow = roll_day(v.day, 86_400 + 5, equity=10_000)
    assert tomorrow.halted == "" and tomorrow.orders == 0
    assert check_order(buy(), account(), tomorrow, LIMITS, kill_switch=False).approved


def test_roll_day_keeps_the_same_day() -> None:
    day = RiskDay(day=1, start_equity=9_000, orders=2)
    assert roll_day(day, 86_400 + 100, equity=1.0) is day


def test_nothing_to_sell() -> None:
    v = check_order(sell(), account(), DAY, LIMITS, kill_switch=False)
    assert not v.approved and "nothing to sell" in v.reason


def test_sell_closing_a_dust_position_is_allowed_but_a_small_partial_sell_is_not() -> None:
    assert check_order(sell(1.0), account(BTC_USD=0.05), DAY, LIMITS, kill_switch=False).approved
    v = check_order(sell(0.5), account(BTC_USD=0.05), DAY, LIMITS, kill_switch=False)
    assert not v.approved and "below the minimum" in v.reason


def test_oversized_sell_is_reduced_to_the_holding() -> None:
    intent = OrderIntent(intent_id="i3", symbol="BTC-USD", side=Side.SELL, quantity=9, reference_price=100, ts=60)
    v = check_order(intent, account(BTC_USD=2), DAY, LIMITS, kill_switch=False)
    assert v.approved and v.intent is not None and v.intent.quantity == 2


# -- risk never traps an exit (issue 13 item 5) ------------------------------------------------------


def exit_(reason: ExitReason | None = ExitReason.STOP_LOSS) -> OrderIntent:
    return sell().model_copy(update={"exit_reason": reason})


HALTED = RiskDay(day=0, start_equity=10_000, orders=3, halted="daily loss 600.00 reached the limit 500.00")


@pytest.mark.parametrize(
    "day, paused",
    [
        (HALTED, ""),  # the daily-loss halt, and the day's orders used up
        (RiskDay(day=0, start_equity=10_000, orders=3), ""),  # only the orders-per-day limit
        (DAY, "the owner paused entries"),  # the owner's pause, or a protection
    ],
)
def test_an_order_that_only_reduces_a_position_passes_every_halt(day: RiskDay, paused: str) -> None:
    for intent in (exit_(), sell(0.5)):
        v = check_order(intent, account(BTC_USD=5), day, LIMITS, kill_switch=False, entries_paused=paused)
        assert v.approved and v.intent == intent
    refused = check_order(buy(), account(BTC_USD=5), day, LIMITS, kill_switch=False, entries_paused=paused)
    assert not refused.approved


def test_an_exit_while_the_loss_limit_is_breached_exits_and_halts_the_day_for_entries() -> None:
    down = AccountView(cash=9_000, positions={"BTC-USD": 3}, prices={"BTC-USD": 100.0})  # equity 9,300: -700
    v = check_order(exit_(), down, DAY, LIMITS, kill_switch=False)
    assert v.approved and v.day is not None and "daily loss 700.00" in v.day.halted
    after = check_order(buy(), account(), v.day, LIMITS, kill_switch=False)
    assert not after.approved and "rest of the day" in after.reason


def test_exposure_limits_never_stop_a_sell() -> None:
    over = AccountView(cash=0, positions={"BTC-USD": 90, "ETH-USD": 90}, prices={"BTC-USD": 100.0, "ETH-USD": 100.0})
    assert check_order(exit_(), over, DAY, LIMITS, kill_switch=False).approved


def test_the_kill_switch_stops_exits_too_but_not_the_owners_flatten() -> None:
    stopped = check_order(exit_(), account(BTC_USD=5), DAY, LIMITS, kill_switch=True)
    assert not stopped.approved and "kill switch" in stopped.reason
    v = check_order(exit_(ExitReason.FLATTEN), account(BTC_USD=5), HALTED, LIMITS, kill_switch=True)
    assert v.approved and v.intent is not None and v.intent.exit_reason is ExitReason.FLATTEN


def test_a_paused_entry_is_refused_with_the_reason() -> None:
    v = check_order(buy(), account(), DAY, LIMITS, kill_switch=False, entries_paused="cooldown on BTC-USD")
    assert not v.approved and v.reason == "new entries are paused: cooldown on BTC-USD"


# -- position-aware decisions (issue 13 item 7, issue 10 item 18) --------------------------------------


def test_a_committee_sell_with_nothing_held_is_a_hold() -> None:
    assert "nothing held" in moot_decision(sell(), account(), LIMITS)
    assert moot_decision(sell(), account(BTC_USD=1), LIMITS) == ""


def test_a_committee_buy_at_the_position_limit_is_a_hold_and_below_it_an_order() -> None:
    assert "at its limit" in moot_decision(buy(), account(BTC_USD=30), LIMITS)  # 3,000 of 3,000
    assert "at its limit" in moot_decision(buy(), account(BTC_USD=29.95), LIMITS)  # 5 left: below the minimum
    assert moot_decision(buy(), account(BTC_USD=25), LIMITS) == ""  # 500 left: a reduced buy


def test_the_owners_orders_are_never_moot() -> None:
    manual = sell().model_copy(update={"source": "manual", "exit_reason": ExitReason.MANUAL})
    assert moot_decision(manual, account(), LIMITS) == ""
    assert moot_decision(exit_(ExitReason.FLATTEN), account(), LIMITS) == ""
