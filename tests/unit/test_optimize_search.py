"""`coinswarm optimize`'s search: it never reads a test window while searching, an interrupted study
resumes where it stopped, trials run in processes, and a study is not reused for another question."""

from __future__ import annotations

import os
from dataclasses import dataclass

import optuna
import pytest

from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.research.optimize import SearchError, search
from coinswarm.research.walkforward import Market, market_from

START = 1_514_764_800
BARS = 1_200


def series(ramp: float = 0.0, from_bar: int | None = None) -> dict[str, list[Candle]]:
    """Two seeded symbols; with `from_bar`, the prices from that bar on bent by a growing factor."""
    out = {}
    for i, symbol in enumerate(("AAA-USD", "BBB-USD")):
        candles = synthetic_candles(symbol, BARS, seed=11 + i, start_ts=START, timeframe_s=300)
        if from_bar is not None:
            candles = [c if k < from_bar else _scaled(c, 1.0 + ramp * (k - from_bar)) for k, c in enumerate(candles)]
        out[symbol] = candles
    return out


def _scaled(c: Candle, f: float) -> Candle:
    return c.model_copy(update={"open": c.open * f, "high": c.high * f, "low": c.low * f, "close": c.close * f})


def settings(storage: str, **optimize: object) -> Settings:
    base = {
        "storage": storage,
        "study": "t",
        "trials": 3,
        "folds": 2,
        "purge_bars": 12,
        "min_trades": 0,
        "workers": 1,
        "seed": 5,
        "space": {
            "agents.trend.fast": {"low": 5, "high": 30},
            "agents.trend.slow": {"low": 40, "high": 120},
            "committee.threshold": {"low": 0.3, "high": 1.0},
            "sizing.buy_fraction": {"low": 0.1, "high": 1.0},
        },
    }
    base.update(optimize)
    return Settings.model_validate({"optimize": base})


@dataclass
class Read:
    bars: range
    searching_fold: int | None  # the fold whose search had started and not yet finished


class WatchedMarket(Market):
    """A market that notes every window read and which fold was searching at the time."""

    reads: list[Read]
    fold: int | None

    def window(self, bars: range) -> dict[str, list[Candle]]:
        self.reads.append(Read(bars, self.fold))
        return super().window(bars)


def watched(data: dict[str, list[Candle]]) -> WatchedMarket:
    m = market_from(data)
    w = WatchedMarket(series=m.series, start_ts=m.start_ts, timeframe_s=m.timeframe_s, bars=m.bars)
    w.reads, w.fold = [], None
    return w


def test_the_search_never_reads_a_test_window(tmp_path) -> None:
    market = watched(series())

    def progress(fold: int, folds: int, done: int, total: int, best: str) -> None:
        market.fold = fold if done < total else None

    result = search(settings(f"sqlite:///{tmp_path}/s.db"), market, progress=progress)
    folds = [o.fold for o in result.folds]
    assert len(folds) == 2
    # Each fold's search read its train window only, and its test window was read once the search was over.
    assert [(r.bars, r.searching_fold) for r in market.reads] == [
        (folds[0].train, 0),
        (folds[0].test, None),
        (folds[1].train, 1),
        (folds[1].test, None),
    ]
    for f in folds:
        assert f.train.stop + 12 <= f.test.start  # the purge gap is kept


def test_a_changed_test_window_changes_no_trial(tmp_path) -> None:
    """The last test window is read by no search: changing its prices changes no trial of any fold,
    only the out-of-sample result of the last fold."""
    plain = market_from(series())
    first = search(settings(f"sqlite:///{tmp_path}/a.db"), plain)
    last_test = first.folds[-1].fold.test
    altered = market_from(series(ramp=0.002, from_bar=last_test.start))
    second = search(settings(f"sqlite:///{tmp_path}/b.db"), altered)
    for a, b in zip(first.folds, second.folds, strict=True):
        assert (a.params, a.values, a.in_sample) == (b.params, b.values, b.in_sample)
    assert [f.out_of_sample for f in first.folds[:-1]] == [f.out_of_sample for f in second.folds[:-1]]
    assert first.folds[-1].out_of_sample["buy_hold_return_pct"] != second.folds[-1].out_of_sample["buy_hold_return_pct"]


def _trials(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def test_an_interrupted_search_resumes_where_it_stopped(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path}/r.db"
    market = market_from(series())
    cfg = settings(storage, trials=5)

    def interrupt(fold: int, folds: int, done: int, total: int, best: str) -> None:
        if fold == 0 and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search(cfg, market, progress=interrupt)
    before = [(t.number, t.params, t.values) for t in _trials(storage, "t-fold0")]
    assert len(before) == 2

    runs = []

    def count(fold: int, folds: int, done: int, total: int, best: str) -> None:
        runs.append((fold, done))

    result = search(cfg, market, progress=count)
    fold0 = _trials(storage, "t-fold0")
    assert [(t.number, t.params, t.values) for t in fold0[:2]] == before  # kept, not redone
    assert len(fold0) == 5 and all(t.state is optuna.trial.TrialState.COMPLETE for t in fold0)
    assert [d for f, d in runs if f == 0] == [2, 3, 4, 5]  # only the three missing trials ran
    assert [f.trials for f in result.folds] == [5, 5]
    assert [f.stored for f in result.folds] == [2, 0]  # what the interrupted run had stored

    again = []
    finished = search(cfg, market, progress=lambda f, n, d, t, b: again.append(d))
    assert again == [5, 5]  # a finished search runs no trial
    assert [f.stored for f in finished.folds] == [5, 5]


@pytest.mark.subprocess  # the search forks its trial processes (tests/tiers.py cannot see it from here)
def test_trials_run_in_processes_on_one_storage(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path}/p.db"
    result = search(settings(storage, workers=2, trials=6, folds=1), market_from(series()))
    trials = _trials(storage, "t-fold0")
    done = [t for t in trials if t.state is optuna.trial.TrialState.COMPLETE]
    assert 6 <= len(done) <= 7  # a trial already running in the other process when the sixth ends still counts
    assert len(trials) == len(done)  # none left running or failed
    pids = {t.user_attrs["pid"] for t in done}
    assert os.getpid() not in pids  # the trials ran in the worker processes, not here
    assert len({t.number for t in trials}) == len(trials)
    assert result.folds[0].trials == len(done)


def test_a_study_is_not_reused_for_another_search(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path}/u.db"
    search(settings(storage, folds=1), market_from(series()))
    with pytest.raises(SearchError, match="another search"):
        search(settings(storage, folds=1, objectives=["calmar"]), market_from(series()))


def test_several_objectives_give_a_pareto_front(tmp_path) -> None:
    result = search(
        settings(f"sqlite:///{tmp_path}/m.db", folds=1, trials=6, objectives=["sharpe", "profit"]),
        market_from(series()),
    )
    fold = result.folds[0]
    assert len(fold.values) == 2
    front = fold.pareto
    assert front, "a Pareto front of at least one trial"
    for a in front:  # no trial of the front dominates another
        for b in front:
            va, vb = list(a["values"].values()), list(b["values"].values())
            assert not (all(x >= y for x, y in zip(va, vb, strict=True)) and va != vb)
    assert fold.values[0] == max(row["values"]["sharpe"] for row in front)
