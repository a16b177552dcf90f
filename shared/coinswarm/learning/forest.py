"""A gradient-boosted tree ensemble, evaluated in pure Python from plain lists.

Contract: `Forest.from_json(data)` takes what `coinswarm.learning.export.forest_json` wrote from a
fitted scikit-learn `HistGradientBoostingRegressor`; `predict(row)` gives the same float, bit for bit,
as that model's `predict` on the same row: the baseline plus each tree's leaf value, added in the same
order in float64; a row goes left when its value is <= the node's threshold, and a NaN goes the way
the tree learned for missing values. No numpy and no scikit-learn, so a cloud function can carry it
(scikit-learn with numpy and scipy is far beyond a Lambda zip; see docs/agents-learned.md).

Each tree is six parallel lists over its nodes: `feature` (-1 at a leaf), `threshold`, `left`,
`right`, `missing_left` (0/1) and `value` (the leaf's contribution, 0 elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_KEYS = ("feature", "threshold", "left", "right", "missing_left", "value")


class ForestError(ValueError):
    """Tree data that cannot be a forest; the message says which tree and what is wrong."""


@dataclass(frozen=True, slots=True)
class _Tree:
    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    missing_left: tuple[bool, ...]
    value: tuple[float, ...]


class Forest:
    def __init__(self, baseline: float, trees: Sequence[_Tree], n_features: int) -> None:
        self.baseline = baseline
        self.trees = tuple(trees)
        self.n_features = n_features

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Forest:
        try:
            n_features = int(data["n_features"])
            baseline = float(data["baseline"])
            raw_trees = data["trees"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ForestError(f"a forest needs n_features, baseline and trees: {exc}") from None
        trees = [_tree(i, t, n_features) for i, t in enumerate(raw_trees)]
        return cls(baseline, trees, n_features)

    def predict(self, row: Sequence[float]) -> float:
        if len(row) != self.n_features:
            raise ForestError(f"a row of {len(row)} features for a forest of {self.n_features}")
        total = self.baseline
        for tree in self.trees:
            feature, threshold, left, right, missing = (
                tree.feature,
                tree.threshold,
                tree.left,
                tree.right,
                tree.missing_left,
            )
            i = 0
            f = feature[0]
            while f >= 0:
                x = row[f]
                if x != x:  # NaN
                    i = left[i] if missing[i] else right[i]
                elif x <= threshold[i]:
                    i = left[i]
                else:
                    i = right[i]
                f = feature[i]
            total += tree.value[i]
        return total


def _tree(index: int, raw: Any, n_features: int) -> _Tree:
    try:
        columns = [list(raw[k]) for k in _KEYS]
    except (KeyError, TypeError) as exc:
        raise ForestError(f"tree {index}: needs the lists {', '.join(_KEYS)} ({exc})") from None
    n = len(columns[0])
    if n == 0 or any(len(c) != n for c in columns):
        raise ForestError(f"tree {index}: its node lists differ in length or are empty")
    tree = _Tree(
        feature=tuple(int(v) for v in columns[0]),
        threshold=tuple(float(v) for v in columns[1]),
        left=tuple(int(v) for v in columns[2]),
        right=tuple(int(v) for v in columns[3]),
        missing_left=tuple(bool(v) for v in columns[4]),
        value=tuple(float(v) for v in columns[5]),
    )
    for node, f in enumerate(tree.feature):
        if f >= n_features:
            raise ForestError(f"tree {index} node {node}: feature {f} of {n_features}")
        if f >= 0 and not (node < tree.left[node] < n and node < tree.right[node] < n):
            raise ForestError(f"tree {index} node {node}: children must come after it, within the tree")
    return tree
