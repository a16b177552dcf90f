"""A fitted scikit-learn `HistGradientBoostingRegressor` as the plain lists `coinswarm.learning.forest` walks.

Contract: `forest_json(model, n_features)` reads the fitted model's trees (its `_predictors`, one tree
per boosting iteration) and its baseline; `Forest.from_json(forest_json(m, n)).predict(row)` equals
`m.predict([row])[0]` bit for bit (tests/unit/test_learning.py checks it on real data). Categorical
splits are not used by `coinswarm train` and are refused here.
"""

from __future__ import annotations

from typing import Any


def forest_json(model: Any, n_features: int) -> dict[str, Any]:
    predictors = getattr(model, "_predictors", None)
    if predictors is None:
        raise ValueError("the model is not a fitted HistGradientBoostingRegressor")
    trees: list[dict[str, list[Any]]] = []
    for iteration in predictors:
        if len(iteration) != 1:
            raise ValueError("only single-output regression models can be exported")
        nodes = iteration[0].nodes
        if bool(nodes["is_categorical"].any()):
            raise ValueError("categorical splits cannot be exported")
        leaf = nodes["is_leaf"].astype(bool)
        trees.append(
            {
                "feature": [-1 if is_leaf else int(f) for f, is_leaf in zip(nodes["feature_idx"], leaf, strict=True)],
                "threshold": [
                    0.0 if is_leaf else float(t) for t, is_leaf in zip(nodes["num_threshold"], leaf, strict=True)
                ],
                "left": [int(v) for v in nodes["left"]],
                "right": [int(v) for v in nodes["right"]],
                "missing_left": [int(bool(v)) for v in nodes["missing_go_to_left"]],
                "value": [float(v) if is_leaf else 0.0 for v, is_leaf in zip(nodes["value"], leaf, strict=True)],
            }
        )
    baseline = float(model._baseline_prediction.ravel()[0])
    return {"n_features": n_features, "baseline": baseline, "trees": trees}
