"""`coinswarm train` from the command line, and the out-of-sample judgement on a slice of real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coinswarm.cli.main import main
from coinswarm.config.settings import Settings
from coinswarm.learning.artifact import read
from coinswarm.marketdata.candle_files import CandleFile, load_candles
from coinswarm.research.judge_learned import VARIANTS, groups, judge, table

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ohlcv"
ETH = DATA / "ETH_BTC-5m.csv.gz"


@pytest.fixture(scope="module")
def eth() -> CandleFile:
    if not ETH.exists():
        pytest.skip(f"the reference data is not beside the project ({ETH})")
    return load_candles(ETH)


def test_train_prints_fold_metrics_and_writes_a_versioned_artifact(
    eth: CandleFile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.json"
    assert main(["train", str(ETH), "--folds", "2", "--horizon", "6", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    artifact = read(out)
    assert printed["version"] == artifact.version
    assert [f["fold"] for f in printed["folds"]] == [0, 1]
    assert all(f["train_end"] < f["test_start"] for f in printed["folds"])
    assert artifact.horizon == 6 and artifact.metrics["folds"] == printed["folds"]
    assert artifact.train_end <= eth.candles[-7].ts


def test_train_refuses_files_of_two_candle_lengths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    daily = DATA / "BTC_USDT-1d.csv.gz"
    if not daily.exists():
        pytest.skip("the reference data is not beside the project")
    assert main(["train", str(ETH), str(daily), "--out", str(tmp_path / "m.json")]) == 2
    assert "different candle lengths" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "none.csv"), "--out", str(tmp_path / "m.json")]) == 2
    assert not (tmp_path / "m.json").exists()


def test_files_of_one_length_and_period_are_judged_together(eth: CandleFile) -> None:
    daily = load_candles(DATA / "BTC_USDT-1d.csv.gz")
    xmr = load_candles(DATA / "XMR_BTC-5m.csv.gz")
    assert [[f.symbol for f in g] for g in groups([daily, eth, xmr])] == [["ETH-BTC", "XMR-BTC"], ["BTC-USDT"]]


def test_the_judgement_is_out_of_sample_and_holds_every_variant(eth: CandleFile) -> None:
    part = CandleFile(eth.path, eth.symbol, eth.timeframe_s, eth.candles[:3_000], [])
    j = judge([part], Settings(), folds=2, horizon=12, embargo=6, params={"max_iter": 20})
    assert len(j.folds) == 2
    for row in j.folds:
        assert row["train_end"] + 12 * 300 < row["test_start"]
    (figures,) = j.per_file.values()
    assert set(figures) == set(VARIANTS)
    closes = {c.ts: c.close for c in part.candles}
    fee = Settings().paper.fee_bps / 1e4
    held = 1.0
    for row in j.folds:  # each window bought at its first close and sold at its last, the fee both ways
        held *= (1 - fee) ** 2 * closes[row["test_end"]] / closes[row["test_start"]]
    assert figures["buy-and-hold"]["return_pct"] == pytest.approx((held - 1) * 100, rel=1e-9)
    assert figures["buy-and-hold"]["trades"] == 2
    assert "TOTAL (mean)" in table(j)


def test_a_model_published_to_the_state_store_is_what_the_agent_votes_with(
    eth: CandleFile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from coinswarm.adapters.memory_store import MemoryStore
    from coinswarm.adapters.sqlite_store import SqliteStore
    from coinswarm.backtest.engine import BacktestOptions, run_backtest

    state = tmp_path / "state.db"
    SqliteStore(state).close()
    out = tmp_path / "m.json"
    argv = ["train", str(ETH), "--folds", "2", "--horizon", "6", "--out", str(out)]
    assert main([*argv, "--publish", "--state", str(state)]) == 0
    version = read(out).version
    with SqliteStore(state) as store:
        document = store.get("model:learned")
    assert document is not None and document.value["checksum"].startswith(version)

    backtest_store = MemoryStore()  # what a cloud function's state store holds
    backtest_store.put("model:learned", document.value)
    settings = Settings.model_validate(
        {
            "committee": {"weights": {"trend": 1.0, "mean_reversion": 1.0, "learned": 1.0}},
            "agents": {"learned": {"model": "state:model:learned", "max_age_days": 3650.0}},
        }
    )
    run_backtest(eth.candles[-400:], settings, BacktestOptions(), store=backtest_store)
    reasons = {v.reason for d in backtest_store.recent_decisions(100) for v in d.votes if v.agent == "learned"}
    # trained on all but the last 6 candles (their labels reach past the file's end): in sample until
    # then, after that it votes; either way naming the model it read from the store
    assert f"in sample: model {version} was trained on this candle's period" in reasons
    assert any(r.startswith(f"model {version}: ") and "bps net over 6 candles" in r for r in reasons), reasons
