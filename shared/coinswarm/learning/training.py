"""Training the learned agent's model: samples from candle files, walk-forward folds, the artifact.

Contract:
- `samples(candles, horizon, fee_bps)`: one `Sample` per candle whose features are warm and whose
  label is known: the log return from its close to the close `horizon` candles later, minus a round
  trip's fees (2 x fee_bps). Features come from `Features`, the object the agent scores with.
- `walk_forward_eval(samples, ...)`: pools the samples of every file on one time grid (files of one
  candle length), makes `folds` walk-forward folds over it (coinswarm.research.folds) with a purge of
  `horizon` candles plus `embargo`, drops any training sample whose label ends at or after its fold's
  first test candle, fits a model per fold and scores it on the test window only.
- `fit_artifact(samples, ...)`: fits on the given samples and returns the sealed `ModelArtifact`.

The model is scikit-learn's `HistGradientBoostingRegressor` (the `learn` extra; imported only here):
binned histogram boosting trains a few tens of thousands of rows in seconds with no native library
beyond numpy and scipy, and its trees export exactly to the pure-Python `Forest` the agent walks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from coinswarm.domain.models import Candle
from coinswarm.learning.artifact import ModelArtifact
from coinswarm.learning.export import forest_json
from coinswarm.learning.features import FEATURES, Features
from coinswarm.research.folds import Fold, walk_forward

DEFAULT_HORIZON = 12
DEFAULT_PARAMS: dict[str, Any] = {
    "max_iter": 120,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 200,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}


class TrainingError(ValueError):
    """Training that cannot go ahead; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Sample:
    symbol: str
    ts: int  # the candle's open time; the label reaches horizon candles past its close
    row: tuple[float, ...]
    label: float


@dataclass(frozen=True)
class FoldResult:
    fold: Fold
    train_start: int
    train_end: int
    test_start: int
    test_end: int
    metrics: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "fold": self.fold.index,
            "train_start": self.train_start,
            "train_end": self.train_end,
            "test_start": self.test_start,
            "test_end": self.test_end,
            **self.metrics,
        }


def samples(candles: Sequence[Candle], horizon: int, fee_bps: float) -> list[Sample]:
    if horizon < 1:
        raise TrainingError(f"the horizon is a number of candles >= 1, got {horizon}")
    features = Features()
    rows = [features.update(c) for c in candles]
    cost = 2.0 * fee_bps / 1e4
    out: list[Sample] = []
    for i in range(len(candles) - horizon):
        row = rows[i]
        if row is None:
            continue
        label = math.log(candles[i + horizon].close / candles[i].close) - cost
        out.append(Sample(candles[i].symbol, candles[i].ts, tuple(row), label))
    return out


def time_grid(pooled: Sequence[Sample]) -> list[int]:
    return sorted({s.ts for s in pooled})


def walk_forward_eval(
    pooled: Sequence[Sample],
    *,
    timeframe_s: int,
    horizon: int,
    folds: int,
    embargo: int = 0,
    train: int | None = None,
    params: dict[str, Any] | None = None,
) -> list[FoldResult]:
    grid = time_grid(pooled)
    results: list[FoldResult] = []
    for fold in walk_forward(len(grid), folds=folds, train=train, purge=horizon, embargo=embargo, min_train=50):
        train_set, test_set = split(pooled, grid, fold, timeframe_s, horizon)
        if len(train_set) < 50 or not test_set:
            continue
        model = _fit(train_set, params)
        predictions = [float(p) for p in model.predict([s.row for s in test_set])]
        results.append(
            FoldResult(
                fold=fold,
                train_start=train_set[0].ts,
                train_end=max(s.ts for s in train_set),
                test_start=grid[fold.test.start],
                test_end=grid[fold.test.stop - 1],
                metrics=oos_metrics(predictions, [s.label for s in test_set], n_train=len(train_set)),
            )
        )
    if not results:
        raise TrainingError("no fold had enough samples: give more candles, fewer folds or a shorter horizon")
    return results


def split(
    pooled: Sequence[Sample], grid: Sequence[int], fold: Fold, timeframe_s: int, horizon: int
) -> tuple[list[Sample], list[Sample]]:
    """The fold's training samples (their labels end before its first test candle opens) and test samples."""
    test_start, test_stop = grid[fold.test.start], grid[fold.test.stop - 1]
    train_first, train_last = grid[fold.train.start], grid[fold.train.stop - 1]
    reach = horizon * timeframe_s
    train_set = [s for s in pooled if train_first <= s.ts <= train_last and s.ts + timeframe_s + reach <= test_start]
    test_set = [s for s in pooled if test_start <= s.ts <= test_stop]
    return sorted(train_set, key=lambda s: s.ts), test_set


def oos_metrics(predictions: Sequence[float], labels: Sequence[float], *, n_train: int) -> dict[str, float]:
    """Information coefficient (Pearson), sign hit rate, and the mean net label (bps) of the candles the
    model would buy (forecast > 0) against all candles."""
    n = len(labels)
    mp, ml = sum(predictions) / n, sum(labels) / n
    cov = sum((p - mp) * (y - ml) for p, y in zip(predictions, labels, strict=True))
    vp = sum((p - mp) ** 2 for p in predictions)
    vl = sum((y - ml) ** 2 for y in labels)
    ic = cov / math.sqrt(vp * vl) if vp > 0 and vl > 0 else 0.0
    hits = sum((p > 0) == (y > 0) for p, y in zip(predictions, labels, strict=True)) / n
    chosen = [y for p, y in zip(predictions, labels, strict=True) if p > 0]
    return {
        "n_train": float(n_train),
        "n_test": float(n),
        "ic": round(ic, 6),
        "hit_rate": round(hits, 6),
        "buy_share": round(len(chosen) / n, 6),
        "buy_mean_bps": round(sum(chosen) / len(chosen) * 1e4, 4) if chosen else 0.0,
        "all_mean_bps": round(ml * 1e4, 4),
    }


def fit_artifact(
    train_set: Sequence[Sample],
    *,
    timeframe_s: int,
    horizon: int,
    fee_bps: float,
    metrics: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> ModelArtifact:
    if len(train_set) < 50:
        raise TrainingError(f"{len(train_set)} samples are too few to train on (need 50): give more candles")
    model = _fit(train_set, params)
    fitted = [float(p) for p in model.predict([s.row for s in train_set])]
    magnitudes = sorted(abs(p) for p in fitted)
    scale = magnitudes[int(0.9 * (len(magnitudes) - 1))] or 1e-4
    return ModelArtifact(
        features=FEATURES,
        horizon=horizon,
        fee_bps=fee_bps,
        timeframe_s=timeframe_s,
        train_start=min(s.ts for s in train_set),
        train_end=max(s.ts for s in train_set),
        scale=scale,
        forest=forest_json(model, len(FEATURES)),
        metrics=metrics or {},
        symbols=tuple(sorted({s.symbol for s in train_set})),
    ).sealed()


def _fit(train_set: Sequence[Sample], params: dict[str, Any] | None) -> Any:
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
    except ImportError:
        raise TrainingError("training needs scikit-learn: pip install -e '.[learn]'") from None
    model = HistGradientBoostingRegressor(**{**DEFAULT_PARAMS, **(params or {})})
    model.fit([s.row for s in train_set], [s.label for s in train_set])
    return model
