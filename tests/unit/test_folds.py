"""Walk-forward folds: test windows follow each other to the last bar, training is only on the past,
and the purge and embargo keep a gap no training bar crosses."""

from __future__ import annotations

import pytest

from coinswarm.research.folds import FoldError, excluded_around, walk_forward


def test_anchored_folds_train_on_everything_before_the_gap() -> None:
    folds = walk_forward(100, folds=4, purge=3, embargo=2)
    assert [f.test for f in folds] == [range(20, 40), range(40, 60), range(60, 80), range(80, 100)]
    for f in folds:
        assert f.train.start == 0
        assert f.train.stop == f.test.start - 5  # purge + embargo
        assert f.purged == range(f.train.stop, f.test.start)


def test_rolling_folds_keep_a_fixed_training_length() -> None:
    folds = walk_forward(1000, folds=3, test=100, train=200, purge=10)
    assert [len(f.train) for f in folds] == [200, 200, 200]
    assert [f.test.stop for f in folds] == [800, 900, 1000]
    assert all(max(f.train) + 10 < f.test.start for f in folds)


def test_a_fold_without_enough_training_is_left_out_and_numbered_from_zero() -> None:
    folds = walk_forward(100, folds=4, test=25, purge=0, min_train=10)
    assert [f.index for f in folds] == [0, 1, 2]
    assert folds[0].test == range(25, 50)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"bars": 100, "folds": 0}, "at least 1 fold"),
        ({"bars": 3, "folds": 5}, "cannot make 5 test windows"),
        ({"bars": 100, "folds": 2, "purge": -1}, "purge and embargo"),
        ({"bars": 100, "folds": 4, "purge": 90}, "no fold has"),
        ({"bars": 100, "folds": 2, "train": 0}, "rolling training window"),
    ],
)
def test_impossible_folds_say_what_to_change(kwargs: dict, needle: str) -> None:
    with pytest.raises(FoldError, match=needle):
        walk_forward(**kwargs)


def test_excluded_around_covers_the_gap_and_the_embargo_after_the_test() -> None:
    fold = walk_forward(100, folds=2, purge=4)[0]
    assert excluded_around(fold, 100, 6) == [fold.purged, range(fold.test.stop, fold.test.stop + 6)]
    last = walk_forward(100, folds=2, purge=4)[-1]
    assert excluded_around(last, 100, 6) == [last.purged]  # nothing after the last bar
