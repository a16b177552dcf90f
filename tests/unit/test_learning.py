"""The learned agent on real data: features computed one candle at a time, the exported forest gives
scikit-learn's predictions bit for bit, the artifact refuses tampering, the agent abstains with its
reason when it should, votes otherwise, and does not look ahead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coinswarm.domain.agents.learned import LearnedAgent
from coinswarm.learning.artifact import ArtifactError, loads, read
from coinswarm.learning.export import forest_json
from coinswarm.learning.features import FEATURES, WARMUP, Features
from coinswarm.learning.forest import Forest, ForestError
from coinswarm.learning.training import _fit, fit_artifact, samples, split, time_grid, walk_forward_eval
from coinswarm.marketdata.candle_files import load_candles
from coinswarm.research.bias import check_bias
from coinswarm.research.folds import walk_forward

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ohlcv"
FAST = {"max_iter": 25}  # fewer trees: the tests need a real model, not a good one
TRAIN_BARS = 3_000


@pytest.fixture(scope="module")
def candles() -> list:
    path = DATA / "ETH_BTC-5m.csv.gz"
    if not path.exists():
        pytest.skip(f"the reference data is not beside the project ({path})")
    return load_candles(path).candles


@pytest.fixture(scope="module")
def model_file(candles: list, tmp_path_factory: pytest.TempPathFactory) -> Path:
    train = samples(candles[:TRAIN_BARS], 12, 60.0)
    artifact = fit_artifact(train, timeframe_s=300, horizon=12, fee_bps=60.0, params=FAST)
    return artifact.write(tmp_path_factory.mktemp("model") / "learned.json")


def test_features_warm_up_then_survive_a_json_round_trip_bit_for_bit(candles: list) -> None:
    whole = Features()
    rows = [whole.update(c) for c in candles[:400]]
    assert rows[WARMUP - 2] is None and rows[WARMUP] is not None
    assert all(len(r) == len(FEATURES) for r in rows[WARMUP:] if r is not None)
    cut = Features()
    for c in candles[:250]:
        cut.update(c)
    resumed = Features.from_state(json.loads(json.dumps(cut.to_state())))
    assert [resumed.update(c) for c in candles[250:400]] == rows[250:400]


def test_the_exported_forest_predicts_what_scikit_learn_predicts_bit_for_bit(candles: list) -> None:
    data = samples(candles, 12, 60.0)
    model = _fit(data[:TRAIN_BARS], FAST)
    forest = Forest.from_json(json.loads(json.dumps(forest_json(model, len(FEATURES)))))
    rows = [list(s.row) for s in data[TRAIN_BARS:]]
    rows.append([float("nan")] * len(FEATURES))  # missing values follow the learned side too
    expected = [float(p) for p in model.predict(rows)]
    assert len(forest.trees) == 25
    assert [forest.predict(r) for r in rows] == expected
    assert len(set(expected)) > 10  # a model that says something


def test_no_training_label_reaches_into_its_test_window(candles: list) -> None:
    pooled = samples(candles, 12, 60.0)
    grid = time_grid(pooled)
    for fold in walk_forward(len(grid), folds=3, purge=12, embargo=5, min_train=50):
        train, test = split(pooled, grid, fold, 300, 12)
        first_test = min(s.ts for s in test)
        assert max(s.ts for s in train) + 300 * 13 <= first_test


def test_walk_forward_eval_reports_out_of_sample_metrics_per_fold(candles: list) -> None:
    pooled = samples(candles, 12, 60.0)
    results = walk_forward_eval(pooled, timeframe_s=300, horizon=12, folds=2, params=FAST)
    assert [r.fold.index for r in results] == [0, 1]
    for r in results:
        assert r.train_end < r.test_start
        assert -1.0 <= r.metrics["ic"] <= 1.0 and 0.0 <= r.metrics["hit_rate"] <= 1.0
        assert r.metrics["n_test"] > 0


def test_the_artifact_carries_its_window_and_refuses_a_changed_file(model_file: Path, candles: list) -> None:
    artifact = read(model_file)
    assert artifact.features == FEATURES
    assert artifact.train_end < candles[TRAIN_BARS].ts and artifact.train_start >= candles[0].ts
    assert len(artifact.version) == 12 and artifact.scale > 0
    text = model_file.read_text()
    tampered = text.replace('"horizon":12', '"horizon":13')
    assert tampered != text
    with pytest.raises(ArtifactError, match="checksum"):
        loads(tampered)
    with pytest.raises(ArtifactError, match="not JSON"):
        loads(text[:100])


def test_a_forest_with_a_child_out_of_range_is_refused() -> None:
    tree = {"feature": [0], "threshold": [0.0], "left": [5], "right": [6], "missing_left": [1], "value": [0.0]}
    with pytest.raises(ForestError, match="children"):
        Forest.from_json({"n_features": 1, "baseline": 0.0, "trees": [tree]})


def test_the_agent_votes_out_of_sample_with_its_model_version(model_file: Path, candles: list) -> None:
    agent = LearnedAgent(model=str(model_file))
    scores = [agent.observe(c) for c in candles[TRAIN_BARS : TRAIN_BARS + 400]]
    voted = [s for s in scores if s.confidence > 0]
    assert voted, {s.reason for s in scores}
    assert all(read(model_file).version in s.reason for s in voted)
    assert all(-1.0 <= s.signal <= 1.0 for s in voted)


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("missing", "no model"),
        ("in_sample", "in sample"),
        ("stale", "stale"),
        ("features", "other features"),
        ("garbage", "no model"),
        ("edge", "minimum edge"),
    ],
)
def test_the_agent_abstains_saying_why(
    setup: str, needle: str, model_file: Path, candles: list, tmp_path: Path
) -> None:
    path, first, kwargs = str(model_file), TRAIN_BARS, {}
    if setup == "missing":
        path = str(tmp_path / "none.json")
    elif setup == "in_sample":
        first = 500
    elif setup == "stale":
        kwargs = {"max_age_days": 1.0}
        first = TRAIN_BARS + 400  # 400 five-minute candles after the end of training: more than a day
    elif setup == "features":
        artifact = read(model_file)
        other = type(artifact)(**{**artifact.__dict__, "features": ("a", "b"), "checksum": ""})
        path = str(other.write(tmp_path / "other.json"))
    elif setup == "edge":
        kwargs = {"min_edge_bps": 1e6}
    elif setup == "garbage":
        (tmp_path / "bad.json").write_text("{not json")
        path = str(tmp_path / "bad.json")
    agent = LearnedAgent(model=path, **kwargs)
    scores = [agent.observe(c) for c in candles[first : first + 150]]
    assert all(s.confidence == 0.0 for s in scores)
    assert needle in scores[-1].reason


def test_the_learned_agent_does_not_look_ahead(model_file: Path, candles: list) -> None:
    report = check_bias("learned", {"model": str(model_file)}, candles[TRAIN_BARS : TRAIN_BARS + 700], samples=12)
    assert report.clean, report.differences[:3]


def test_the_agent_refuses_bad_parameters() -> None:
    with pytest.raises(ValueError, match="max_age_days"):
        LearnedAgent(max_age_days=0)
