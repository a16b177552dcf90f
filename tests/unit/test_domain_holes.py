"""Holes: the missing bars that ingest asks the venue for again, until filled or out of the horizon."""

from __future__ import annotations

from coinswarm.domain.gaps import Gap, Hole, fill_holes, gap_between, hole_of, since, within_horizon

TF = 60
T0 = 1_700_000_040  # on the minute grid


def at(k: int) -> int:
    return T0 + k * TF


def test_a_gap_becomes_the_hole_of_its_whole_missing_bars() -> None:
    gap = gap_between(at(0), at(4), TF, "BTC-USD")
    assert gap is not None
    hole = hole_of(gap, TF)
    assert hole == Hole(at(1), at(3))
    assert hole.count(TF) == 3 == gap.missing
    # a step of 2.5 bars misses one whole bar, on the grid of the bar before it
    assert hole_of(Gap("X-Y", at(0), at(0) + 150, 1), TF) == Hole(at(1), at(1))


def test_describe_names_the_symbol_and_the_bars() -> None:
    assert Hole(at(1), at(1)).describe("BTC-USD", TF) == "BTC-USD: 1 candle missing at 2023-11-14T22:15:00Z"
    assert Hole(at(1), at(3)).describe("BTC-USD", TF) == (
        "BTC-USD: 3 candles missing from 2023-11-14T22:15:00Z to 2023-11-14T22:17:00Z"
    )


def test_filling_removes_what_came_back_and_splits_the_rest() -> None:
    holes = [Hole(at(1), at(5)), Hole(at(9), at(9))]
    still, filled = fill_holes(holes, {at(0), at(2), at(3), at(9), at(20)}, TF)
    assert filled == [at(2), at(3), at(9)]
    assert still == [Hole(at(1), at(1)), Hole(at(4), at(5))]
    assert fill_holes(still, set(), TF) == (still, [])
    assert fill_holes(holes, {at(k) for k in range(10)}, TF) == ([], [at(k) for k in (1, 2, 3, 4, 5, 9)])


def test_since_keeps_only_the_bars_inside_the_horizon() -> None:
    hole = Hole(at(1), at(5))
    assert since(hole, at(1), TF) == hole
    assert since(hole, at(3), TF) == Hole(at(3), at(5))
    assert since(hole, at(3) - 1, TF) == Hole(at(3), at(5))  # whole bars on the hole's grid
    assert since(hole, at(5), TF) == Hole(at(5), at(5))
    assert since(hole, at(6), TF) is None


def test_a_hole_is_given_up_whole_when_its_newest_bar_leaves_the_horizon() -> None:
    holes = [Hole(at(8), at(9)), Hole(at(1), at(3)), Hole(at(5), at(5))]
    kept, given_up = within_horizon(holes, at(4), max_holes=10)
    assert kept == [Hole(at(5), at(5)), Hole(at(8), at(9))]
    assert given_up == [Hole(at(1), at(3))]
    kept, given_up = within_horizon(holes, at(3), max_holes=10)  # partly older: kept whole
    assert kept == sorted(holes, key=lambda h: h.first_ts) and given_up == []


def test_beyond_the_bound_the_oldest_holes_are_given_up() -> None:
    holes = [Hole(at(k), at(k)) for k in range(0, 40, 2)]
    kept, given_up = within_horizon(holes, at(0), max_holes=16)
    assert kept == holes[-16:]
    assert given_up == holes[:4]
