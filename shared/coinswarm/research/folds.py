"""Walk-forward folds: train on the past, test on what follows, with no label reaching into the test.

Contract: `walk_forward(bars, folds=..., test=..., train=..., purge=..., embargo=...)` splits bar
positions 0..bars-1 (oldest first) into `Fold`s whose test windows follow each other and end at the
last bar. Each fold trains on bars before its test window only:

- `train=None` anchors the training window at bar 0 (it grows fold by fold); `train=N` rolls it (the
  N bars before the purge).
- `purge`: bars dropped between the end of the training window and the test window. A label that
  looks H bars ahead needs `purge >= H`, or the last training labels would be made of test prices.
- `embargo`: further bars left out after the purge, because features (and volatility) are serially
  correlated well beyond the label's horizon. The gap between training and test is `purge + embargo`.
  A scheme that also trains on bars *after* a test window (k-fold, combinatorial) must leave out the
  same gap on that side too: `excluded_around(fold, ...)` gives both sides.

A fold whose training window would be empty (or shorter than `min_train`) is left out, and
`FoldError` says what to change when none is left.
"""

from __future__ import annotations

from dataclasses import dataclass


class FoldError(ValueError):
    """Folds that cannot be made from the given sizes; the message says which size to change."""


@dataclass(frozen=True, slots=True)
class Fold:
    index: int
    train: range  # bar positions to train on
    test: range  # bar positions to judge on, all after `train` and `purge` bars later at least
    purged: range  # the bars between them (purge + embargo), used by neither

    def to_json(self) -> dict[str, int]:
        return {
            "fold": self.index,
            "train_start": self.train.start,
            "train_end": self.train.stop,
            "test_start": self.test.start,
            "test_end": self.test.stop,
        }


def walk_forward(
    bars: int,
    *,
    folds: int,
    test: int | None = None,
    train: int | None = None,
    purge: int = 0,
    embargo: int = 0,
    min_train: int = 1,
) -> list[Fold]:
    """`folds` consecutive test windows of `test` bars (default: the bars split into folds + 1 equal
    parts, the first of which only trains) ending at the last bar; see the module docstring."""
    if folds < 1:
        raise FoldError(f"need at least 1 fold, got {folds}")
    if purge < 0 or embargo < 0:
        raise FoldError(f"purge and embargo are bar counts >= 0, got purge={purge} embargo={embargo}")
    if train is not None and train < 1:
        raise FoldError(f"a rolling training window needs at least 1 bar, got train={train}")
    size = test if test is not None else bars // (folds + 1)
    if size < 1:
        raise FoldError(f"{bars} bars cannot make {folds} test windows: give fewer folds or more bars")
    first_test = bars - folds * size
    out: list[Fold] = []
    for i in range(folds):
        start = first_test + i * size
        train_stop = start - purge - embargo
        train_start = 0 if train is None else max(0, train_stop - train)
        if train_stop - train_start < max(1, min_train):
            continue
        out.append(
            Fold(
                index=len(out),
                train=range(train_start, train_stop),
                test=range(start, start + size),
                purged=range(train_stop, start),
            )
        )
    if not out:
        raise FoldError(
            f"no fold has {max(1, min_train)} bars to train on ({bars} bars, {folds} folds of {size}, purge {purge}): "
            "give fewer or shorter folds, a smaller purge, or more bars"
        )
    return out


def excluded_around(fold: Fold, bars: int, embargo: int) -> list[range]:
    """The bars a scheme that also trains on data *after* a test window must leave out for this fold:
    the gap before the test window and `embargo` bars after it."""
    after = range(fold.test.stop, min(bars, fold.test.stop + embargo))
    return [r for r in (fold.purged, after) if len(r)]
