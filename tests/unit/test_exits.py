"""The exit rules, candle by candle, against freqtrade's backtesting semantics (docs/exits.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from coinswarm.domain.exits import ExitRules, ExitSignal, ExitTracker
from coinswarm.domain.models import Candle, ExitReason

T0 = 1_700_000_100  # a 5-minute boundary
TF = 300


def bar(i: int, o: float, h: float, low: float, c: float) -> Candle:
    """The i-th 5-minute candle after the entry candle (i = 0 is the entry candle)."""
    return Candle(symbol="X", ts=T0 + i * TF, open=o, high=h, low=low, close=c, volume=1.0, timeframe_s=TF)


def near(reason: ExitReason, price: float) -> Any:
    """An exit for `reason` at about `price` (to compare with ==)."""
    approx: Any = pytest.approx(price)
    return ExitSignal(reason, approx)


def tracker(fee: float = 0.0, entry: float = 100.0, **rules: object) -> ExitTracker:
    return ExitRules.build(**rules).open(entry, T0, fee)  # type: ignore[arg-type]


# -- stop-loss -------------------------------------------------------------------------------------


def test_stop_loss_exits_at_the_stop_when_the_low_reaches_it() -> None:
    t = tracker(stop_loss_pct=10.0)
    assert t.check(bar(0, 100, 101, 95, 96)) is None
    assert t.stop == pytest.approx(90.0)
    assert t.check(bar(1, 95, 96, 89, 92)) == near(ExitReason.STOP_LOSS, 90.0)


def test_a_low_exactly_at_the_stop_exits() -> None:
    t = tracker(stop_loss_pct=10.0)
    t.check(bar(0, 100, 100, 95, 96))
    stop = t.stop
    assert stop is not None
    signal = t.check(bar(1, 95, 96, stop, 92))
    assert signal is not None and signal.reason is ExitReason.STOP_LOSS


def test_a_candle_wholly_below_the_stop_exits_at_its_open() -> None:
    t = tracker(stop_loss_pct=10.0)
    t.check(bar(0, 100, 100, 95, 96))
    assert t.check(bar(1, 85, 88, 80, 82)) == ExitSignal(ExitReason.STOP_LOSS, 85)


def test_a_gap_below_the_stop_that_trades_back_above_it_exits_at_the_stop() -> None:
    # freqtrade's assumption (a resting stop order at a venue would fill near the open instead)
    t = tracker(stop_loss_pct=10.0)
    t.check(bar(0, 100, 100, 95, 96))
    assert t.check(bar(1, 85, 91, 84, 90.5)) == near(ExitReason.STOP_LOSS, 90.0)


def test_without_a_stop_loss_nothing_exits_however_far_the_price_falls() -> None:
    t = tracker()
    assert not ExitRules().active
    assert t.check(bar(1, 50, 51, 1, 2)) is None
    assert t.stop is None


# -- ROI -------------------------------------------------------------------------------------------


def test_roi_exits_at_the_price_that_makes_the_profit_after_both_fees() -> None:
    fee = 0.001
    t = tracker(fee=fee, roi={"0": 2.0})
    signal = t.check(bar(1, 101, 104, 100.5, 103))
    assert signal is not None and signal.reason is ExitReason.ROI
    # what the sale brings after its fee is 2 % more than what the entry cost with its fee
    assert signal.price * (1 - fee) == pytest.approx(1.02 * 100 * (1 + fee))
    assert t.profit(signal.price) == pytest.approx(0.02, abs=1e-8)


def test_roi_needs_the_profit_at_the_high_to_exceed_the_minimum() -> None:
    fee = 0.001
    t = tracker(fee=fee, roi={"0": 2.0})
    price = 1.02 * 100 * (1 + fee) / (1 - fee)
    assert t.check(bar(1, 101, price - 0.01, 100.5, 101)) is None  # short of it
    assert t.check(bar(2, 101, price, 100.5, 101)) is None  # exactly it: not above it
    assert t.check(bar(3, 101, price + 0.01, 100.5, 101)) is not None


def test_roi_table_rows_apply_from_their_minute_on() -> None:
    rules = ExitRules.build(roi={"0": 10.0, "60": 2.0, "240": 0.0})
    assert rules.roi_row(0) == (0, 10.0)
    assert rules.roi_row(59) == (0, 10.0)
    assert rules.roi_row(60) == (60, 2.0)
    assert rules.roi_row(10_000) == (240, 0.0)
    t = rules.open(100.0, T0)
    assert t.check(bar(11, 103, 105, 102, 104)) is None  # 55 minutes: 10 % needed
    signal = t.check(bar(13, 103, 105, 102, 104))  # 65 minutes: 2 % needed, at 102 within the candle
    assert signal == near(ExitReason.ROI, 102.0)


def test_a_new_roi_row_taking_effect_at_an_open_above_its_price_exits_at_the_open() -> None:
    t = tracker(roi={"0": 10.0, "60": 2.0})
    assert t.check(bar(12, 106, 107, 105, 106)) == ExitSignal(ExitReason.ROI, 106)  # 60 minutes exactly


def test_a_candle_wholly_above_the_roi_price_exits_at_its_low_when_no_row_starts_at_its_open() -> None:
    t = tracker(roi={"0": 10.0, "62": 2.0})  # 62 is not on a 5-minute open
    assert t.check(bar(13, 106, 107, 105, 106)) == ExitSignal(ExitReason.ROI, 105)


def test_no_roi_exit_on_a_falling_entry_candle_entered_below_its_open() -> None:
    # freqtrade issue 6261: entered below the open, a red candle's high may have come before the entry
    t = ExitRules.build(roi={"0": 1.0}).open(99.0, T0)
    assert t.check(bar(0, 100, 101, 98, 99.5)) is None
    t = ExitRules.build(roi={"0": 1.0}).open(100.0, T0)  # entered at the open: the exit is taken
    assert t.check(bar(0, 100, 101.5, 98, 99.5)) == near(ExitReason.ROI, 101.0)


def test_roi_of_minus_100_pct_exits_at_the_open() -> None:
    t = tracker(roi={"30": -100.0})
    assert t.check(bar(5, 80, 81, 79, 80)) is None
    assert t.check(bar(6, 80, 81, 79, 80)) == ExitSignal(ExitReason.ROI, 80)


# -- order inside one candle -----------------------------------------------------------------------


def test_the_stop_loss_comes_before_roi_in_one_candle() -> None:
    t = tracker(stop_loss_pct=5.0, roi={"0": 3.0})
    assert t.check(bar(1, 100, 110, 90, 100)) == near(ExitReason.STOP_LOSS, 95.0)


def test_roi_comes_before_the_trailing_stop_in_one_candle() -> None:
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0, roi={"0": 3.0})
    assert t.check(bar(1, 100, 110, 95, 100)) == near(ExitReason.ROI, 103.0)


def test_max_hold_exits_at_the_open_before_any_other_rule() -> None:
    t = tracker(stop_loss_pct=5.0, max_hold_minutes=60)
    assert t.check(bar(11, 100, 100, 99, 99)) is None  # 55 minutes
    assert t.check(bar(12, 93, 94, 80, 90)) == ExitSignal(ExitReason.MAX_HOLD, 93)


# -- trailing stop ---------------------------------------------------------------------------------


def test_the_trailing_stop_moves_up_with_each_high_and_never_down() -> None:
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0)
    assert t.check(bar(1, 104, 105, 103.5, 104)) is None
    assert t.stop == pytest.approx(105 * 0.98) and t.trailing
    assert t.check(bar(2, 104, 104.5, 103.5, 104)) is None
    assert t.stop == pytest.approx(105 * 0.98)  # a lower high leaves it
    assert t.initial_stop == pytest.approx(90.0)
    assert t.highest == 105
    signal = t.check(bar(3, 104, 104, 102, 102.5))
    assert signal == near(ExitReason.TRAILING_STOP, 105 * 0.98)


def test_within_one_candle_the_stop_moves_to_the_high_then_the_low_is_checked_against_it() -> None:
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0)
    assert t.check(bar(1, 100, 110, 100, 104)) == near(ExitReason.TRAILING_STOP, 107.8)


def test_a_stop_already_at_the_low_does_not_move_and_exits_where_it_was() -> None:
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0)
    t.check(bar(1, 104, 105, 103.5, 104))
    old = t.stop
    assert old is not None
    signal = t.check(bar(2, 104, 120, 100, 101))  # a higher high, but the low is under the old stop
    assert t.stop == old
    assert signal == near(ExitReason.TRAILING_STOP, old)


def test_a_stop_loss_hit_before_the_stop_ever_moved_is_a_stop_loss() -> None:
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0, trailing_offset_pct=5.0, trailing_only_offset_reached=True)
    assert t.check(bar(1, 100, 104, 89, 95)) == near(ExitReason.STOP_LOSS, 90.0)


def test_below_the_offset_the_stop_trails_at_the_stop_loss_distance() -> None:
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0, trailing_offset_pct=5.0)
    t.check(bar(1, 100, 104, 100, 103))  # 4 % up: not past the offset
    assert t.stop == pytest.approx(104 * 0.90) and t.trailing
    t.check(bar(2, 104, 106, 104, 105))  # 6 % up: the tight trail takes over
    assert t.stop == pytest.approx(106 * 0.98)


def test_with_only_offset_reached_the_stop_waits_for_the_offset() -> None:
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0, trailing_offset_pct=5.0, trailing_only_offset_reached=True)
    t.check(bar(1, 100, 104, 100, 103))
    assert t.stop == pytest.approx(90.0) and not t.trailing
    t.check(bar(2, 104, 106, 104, 105))
    assert t.stop == pytest.approx(106 * 0.98) and t.trailing


def test_the_offset_compares_the_profit_after_fees() -> None:
    fee = 0.005
    t = tracker(fee=fee, trailing_stop_pct=2.0, trailing_offset_pct=5.0, trailing_only_offset_reached=True)
    t.check(bar(1, 104.5, 105.5, 104, 105))  # 5.5 % up before fees, about 4.5 % after: not yet
    assert t.stop is None
    t.check(bar(2, 105, 106.6, 105, 106))  # about 5.5 % after fees
    assert t.stop == pytest.approx(106.6 * 0.98)


def test_a_trailing_stop_without_a_stop_loss_is_a_trailing_stop() -> None:
    t = tracker(trailing_stop_pct=3.0)
    assert t.check(bar(1, 100, 100, 95, 96)) is None  # no profit yet: no stop at all
    assert t.stop is None
    assert t.check(bar(2, 107, 110, 107, 108)) is None
    assert t.check(bar(3, 108, 108, 106, 106.5)) == near(ExitReason.TRAILING_STOP, 106.7)


def test_a_trailing_stop_hit_on_the_entry_candle_assumes_the_worst_realistic_price() -> None:
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0)
    signal = t.check(bar(0, 100, 110, 97, 104))
    assert signal == near(ExitReason.TRAILING_STOP, 98.0)  # open less the trail
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0)
    assert t.check(bar(0, 100, 110, 99.5, 104)) == ExitSignal(ExitReason.TRAILING_STOP, 99.5)  # not below the low
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0, trailing_offset_pct=3.0, trailing_only_offset_reached=True)
    signal = t.check(bar(0, 100, 110, 95, 104))
    assert signal == near(ExitReason.TRAILING_STOP, 101.0)  # open up the offset, less the trail


# -- rules and state -------------------------------------------------------------------------------


def test_the_state_survives_a_trip_through_json_and_carries_on_the_same() -> None:
    rules = ExitRules.build(stop_loss_pct=10.0, trailing_stop_pct=2.0, roi={"0": 50.0})
    t = rules.open(100.0, T0, 0.001)
    t.check(bar(1, 104, 105, 103.5, 104))
    saved = json.loads(json.dumps(t.to_dict()))
    again = ExitTracker.from_dict(rules, saved)
    assert again == t
    down = bar(2, 104, 104, 100, 101)
    assert again.check(down) == t.check(down) is not None


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"stop": "90"}, "stop is '90', not a number"),
        ({"entry_ts": 1.5}, "entry_ts"),
        ({"trailing": 1}, "trailing"),
        ({"extra": 1}, "unknown field(s) extra"),
        ({"entry_price": -1.0}, "entry price -1.0 must be above 0"),
    ],
)
def test_a_malformed_state_is_refused_naming_the_field(change: dict[str, object], complaint: str) -> None:
    state = tracker(stop_loss_pct=10.0).to_dict()
    with pytest.raises(ValueError) as err:
        ExitTracker.from_dict(ExitRules(), {**state, **change})
    assert complaint in str(err.value)


def test_a_state_missing_fields_says_which() -> None:
    with pytest.raises(ValueError, match="missing highest"):
        ExitTracker.from_dict(ExitRules(), {k: v for k, v in tracker().to_dict().items() if k != "highest"})


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"stop_loss_pct": 0.0}, "stop_loss_pct 0.0 must be above 0"),
        ({"stop_loss_pct": 100.0}, "below 100"),
        ({"trailing_stop_pct": -1.0}, "trailing_stop_pct"),
        ({"trailing_offset_pct": -1.0}, "trailing_offset_pct"),
        ({"max_hold_minutes": 0}, "max_hold_minutes 0"),
        ({"roi": {"ten": 1.0}}, "'ten' is not a whole number of minutes"),
        ({"roi": {"5": -101.0}}, "below -100 %"),
    ],
)
def test_bad_rules_are_refused_saying_what_is_wrong(values: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError) as err:
        ExitRules.build(**values)  # type: ignore[arg-type]
    assert complaint in str(err.value)


def test_roi_rows_are_sorted_by_minute_whatever_their_order_in_the_configuration() -> None:
    table: dict[str | int, float] = {"240": 0.0, "0": 4.0, 60: 2.0}
    rules = ExitRules.build(roi=table)
    assert rules.roi == ((0, 4.0), (60, 2.0), (240, 0.0))
    assert rules.active
    with pytest.raises(ValueError, match="ascending"):
        ExitRules(roi=((60, 1.0), (0, 2.0)))


def test_a_further_entry_averages_the_entry_and_sets_an_unmoved_stop_again() -> None:
    t = tracker(stop_loss_pct=10.0)
    t.check(bar(0, 100, 100, 99, 100))
    t.add_entry(80.0, held=1.0, added=1.0)
    assert t.entry_price == pytest.approx(90.0)
    assert t.stop == pytest.approx(81.0)
    assert t.entry_ts == T0  # time held counts from the first entry
    with pytest.raises(ValueError, match="above 0"):
        t.add_entry(80.0, held=0.0, added=1.0)


def test_a_further_entry_leaves_a_trailing_stop_where_it_is() -> None:
    t = tracker(stop_loss_pct=10.0, trailing_stop_pct=2.0)
    t.check(bar(1, 104, 105, 103.5, 104))
    stop = t.stop
    t.add_entry(120.0, held=1.0, added=1.0)
    assert t.stop == stop and t.entry_price == pytest.approx(110.0)


def test_the_configuration_section_gives_the_same_rules() -> None:
    from coinswarm.config.settings import ExitConfig

    config = ExitConfig(stop_loss_pct=5.0, roi={"60": 1.0, "0": 3.0}, trailing_stop_pct=1.5, max_hold_minutes=600)
    assert config.rules() == ExitRules(
        stop_loss_pct=5.0, roi=((0, 3.0), (60, 1.0)), trailing_stop_pct=1.5, max_hold_minutes=600
    )


def test_a_rule_is_turned_off_in_a_file_with_off_and_in_the_environment_with_null(tmp_path: Any) -> None:
    from coinswarm.config.loader import load_settings

    path = tmp_path / "coinswarm.toml"
    path.write_text('[exits]\nstop_loss_pct = "off"\ntrailing_stop_pct = 2.5\n')
    settings = load_settings(path, env={})
    assert settings.exits.stop_loss_pct is None and settings.exits.trailing_stop_pct == 2.5
    settings = load_settings(None, env={"COINSWARM_EXITS__STOP_LOSS_PCT": "null"})
    assert settings.exits.stop_loss_pct is None
    assert load_settings(None, env={}).exits.stop_loss_pct == 10.0
    settings = load_settings(None, env={"COINSWARM_EXITS__ROI": '{"0": 4, "60": 2}'})
    assert settings.exits.rules().roi == ((0, 4.0), (60, 2.0))
