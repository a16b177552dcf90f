"""Episodes from a backtest on real data: one per closed trade, with the committee's votes at entry,
the features, the regime and the outcome (net return, exit reason, MAE <= 0 <= MFE); written out by
`coinswarm episodes export` as CSV and Parquet, from a backtest or from the state file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.backtest.trades import closed_trades
from coinswarm.cli.main import main
from coinswarm.config.settings import Settings
from coinswarm.learning.backtest_episodes import backtest_with_episodes
from coinswarm.learning.episodes import Episode
from coinswarm.learning.features import FEATURES
from coinswarm.marketdata.candle_files import load_candles

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ohlcv"
FILE = DATA / "XMR_BTC-5m.csv.gz"


@pytest.fixture(scope="module")
def run() -> tuple:
    if not FILE.exists():
        pytest.skip(f"the reference data is not beside the project ({FILE})")
    candles = load_candles(FILE).candles
    result, episodes, store = backtest_with_episodes(candles, Settings())
    return candles, result, episodes, store


def test_one_episode_per_closed_trade_with_the_state_at_entry(run: tuple) -> None:
    _, result, episodes, store = run
    trades = closed_trades(result.fills)
    assert len(trades) >= 2 and len(episodes) == len(trades)
    for e, t in zip(episodes, trades, strict=True):
        assert (e.entry_ts, e.exit_ts, e.net_return) == (t.entry_ts, t.exit_ts, t.return_frac)
        assert e.mae <= 0.0 <= e.mfe
        assert e.mae <= e.exit_price / e.entry_price - 1 <= e.mfe or e.exit_reason != "signal"
        assert {v["agent"] for v in e.votes} == {"trend", "mean_reversion", "arbitrage"}
        assert all(v["reason"] for v in e.votes)
        assert set(e.indicators) == set(FEATURES) and e.regime and e.market_state
    assert store.episodes() == [e.to_json() for e in episodes]
    assert Episode.from_json(episodes[0].to_json()) == episodes[0]


def test_export_writes_csv_from_a_backtest(tmp_path: Path, run: tuple) -> None:
    out = tmp_path / "bt.csv"
    assert main(["episodes", "export", "--backtest", str(FILE), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(run[2])
    assert {"net_return", "mae", "mfe", "exit_reason", "regime", "f_rsi_14", "vote_trend_reason"} <= set(rows[0])


def test_export_reads_the_state_file_and_writes_parquet(tmp_path: Path, run: tuple) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    state = tmp_path / "state.db"
    with SqliteStore(state) as store:
        for e in run[2]:
            store.record_episode(e.to_json())
    out = tmp_path / "eps.parquet"
    assert main(["episodes", "export", "--state", str(state), "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == len(run[2])
    assert table.column("episode_id").to_pylist() == [e.episode_id for e in run[2]]


def test_export_refuses_an_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["episodes", "export", "--out", str(tmp_path / "x.xlsx")]) == 2
    assert ".csv or .parquet" in capsys.readouterr().err


def test_the_keeper_records_each_trade_once_and_never_fails_the_logging(run: tuple) -> None:
    from coinswarm.adapters.memory_store import MemoryStore
    from coinswarm.learning.live_episodes import EpisodeKeeper

    _, result, episodes, store = run
    stream = Settings().ledger_stream
    seq = store.last_seq(stream)
    assert seq > 0, "the backtest's ledger stream is not where the keeper reads"
    sells = [f.ts for f in result.fills if f.side.value == "sell"]
    again = EpisodeKeeper(store, store, 300).on_sells(result.symbol, stream, seq, sells)
    assert again  # rebuilt from the ledger ...
    assert len(store.episodes()) == len(episodes)  # ... and recorded once

    class Broken(MemoryStore):
        def record_episode(self, episode: object) -> None:
            raise RuntimeError("the store is down")

    broken = Broken()
    for e in store.read(stream):
        broken.append(stream, [e])
    assert EpisodeKeeper(broken, store, 300).on_sells(result.symbol, stream, seq, sells) == []
