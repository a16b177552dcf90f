"""`coinswarm optimize`: an optuna search of the configuration, judged by walk-forward validation.

Contract: `search(settings, market, ...)` splits the market's bars into walk-forward folds
(research/folds.py). For each fold it runs an optuna study on the fold's train window only (the
study `<study>-fold<k>` in the storage), takes the best trial (with several objectives: the Pareto
front's best at the first objective), and only then backtests those parameters on the fold's test
window, which no trial read. The `SearchResult` has both, per fold and stitched.

- Trials run in `workers` processes (0: one per core) against one storage URL: SQLite under
  .coinswarm/ by default, or any database optuna speaks (PostgreSQL, MySQL) so that several machines
  share one study. A study that already holds trials resumes: only the missing trials run; a trial
  left running by a process that died is marked failed by optuna's heartbeat and not counted.
- A study remembers the folds, symbols, space and objectives it was made for; reusing its name for
  another search is refused, rather than mixing trials of two questions.
"""

from __future__ import annotations

import gc
import math
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from coinswarm.config.settings import OptimizeConfig, Settings
from coinswarm.research.folds import Fold, walk_forward
from coinswarm.research.objectives import WORST, score
from coinswarm.research.space import InvalidParamsError, Space, search_space, suggest, with_params
from coinswarm.research.walkforward import Market, Stitched, WindowResult, evaluate, stitch

HEARTBEAT_S = 30
POLL_S = 1.0


class SearchError(ValueError):
    """A search that cannot run as asked; the message says what to change."""


#: progress(fold index, folds, trials done in the fold, trials per fold, best so far as text)
ProgressFn = Callable[[int, int, int, int, str], None]


@dataclass(frozen=True)
class Plan:
    settings: Settings
    space: Space
    objectives: tuple[str, ...]
    min_trades: int
    trials: int
    storage: str
    study: str
    workers: int
    seed: int | None
    cash: float


@dataclass
class FoldOutcome:
    fold: Fold
    train_ts: tuple[int, int]
    test_ts: tuple[int, int]
    trials: int
    params: dict[str, Any]
    values: list[float]
    in_sample: dict[str, float]
    out_of_sample: dict[str, float]
    test: WindowResult
    pareto: list[dict[str, Any]] = field(default_factory=list)
    stored: int = 0  # of `trials`, how many the study held already (an earlier, interrupted run's)


@dataclass
class SearchResult:
    plan: Plan
    folds: list[FoldOutcome]
    stitched: Stitched
    symbols: list[str]

    @property
    def chosen(self) -> dict[str, Any]:
        """The parameters of the last fold: trained on the newest data, judged on the window after it."""
        return self.folds[-1].params


def plan_from(settings: Settings, cash: float | None = None) -> Plan:
    o: OptimizeConfig = settings.optimize
    return Plan(
        settings=settings,
        space=search_space(settings),
        objectives=tuple(o.objectives),
        min_trades=o.min_trades,
        trials=o.trials,
        storage=o.storage,
        study=o.study,
        workers=o.workers or cores(),
        seed=o.seed,
        cash=cash or settings.paper.starting_cash,
    )


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def folds_of(settings: Settings, market: Market) -> list[Fold]:
    o = settings.optimize
    return walk_forward(
        market.bars,
        folds=o.folds,
        test=o.test_bars,
        train=o.train_bars,
        purge=o.purge_bars,
        embargo=o.embargo_bars,
    )


def search(
    settings: Settings,
    market: Market,
    *,
    cash: float | None = None,
    progress: ProgressFn | None = None,
) -> SearchResult:
    plan = plan_from(settings, cash)
    if not plan.space:
        raise SearchError("the search space is empty: give [optimize.space] ranges (docs/optimize.md)")
    folds = folds_of(settings, market)
    outcomes: list[FoldOutcome] = []
    for fold in folds:
        study, stored = run_fold(plan, market, fold, len(folds), progress)
        best = choose(study, plan.objectives)
        if best is None:
            raise SearchError(
                f"no trial of fold {fold.index} finished (every draw was refused or failed): "
                "check the ranges in [optimize.space]"
            )
        # Only now, with the fold's search over, is its test window read.
        test = evaluate(with_params(settings, best.params), market.window(fold.test), plan.cash)
        outcomes.append(
            FoldOutcome(
                fold=fold,
                train_ts=(market.ts_of(fold.train.start), market.ts_of(fold.train.stop)),
                test_ts=(market.ts_of(fold.test.start), market.ts_of(fold.test.stop)),
                trials=len(_done(study)),
                params=dict(best.params),
                values=list(best.values),
                in_sample=dict(best.user_attrs["figures"]),
                out_of_sample=test.figures(),
                test=test,
                pareto=_pareto(study, plan) if len(plan.objectives) > 1 else [],
                stored=stored,
            )
        )
    return SearchResult(
        plan=plan, folds=outcomes, stitched=stitch([o.test for o in outcomes], plan.cash), symbols=sorted(market.series)
    )


def study_name(plan: Plan, fold: Fold) -> str:
    return f"{plan.study}-fold{fold.index}"


def run_fold(plan: Plan, market: Market, fold: Fold, folds: int, progress: ProgressFn | None) -> tuple[Any, int]:
    """The fold's study with at least `plan.trials` finished trials, run on its train window only, and
    how many of them it held before (an earlier, interrupted run's)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(plan.storage)
    name = study_name(plan, fold)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=["maximize"] * len(plan.objectives),
        sampler=sampler(plan, 0),
        load_if_exists=True,
    )
    meta = {
        "train": [market.ts_of(fold.train.start), market.ts_of(fold.train.stop)],
        "test": [market.ts_of(fold.test.start), market.ts_of(fold.test.stop)],
        "symbols": sorted(market.series),
        "objectives": list(plan.objectives),
        "min_trades": plan.min_trades,
        "space": {k: v.model_dump() for k, v in sorted(plan.space.items())},
    }
    known = study.user_attrs.get("walk_forward")
    if known is None:
        study.set_user_attr("walk_forward", meta)
    elif known != meta:
        raise SearchError(
            f"study {name!r} in {masked(plan.storage)} was made for another search (other files, folds, space or "
            "objectives): give another --study name, or delete that study to start it again"
        )

    shown: list[Any] = [-1, ""]  # the finished trials counted at the last report, and the best then

    def report() -> None:
        # Called every second while trial processes run: one read of the study, and the best looked
        # for again only when a trial has finished since.
        if progress is None:
            return
        trials = study.get_trials(deepcopy=False)
        done = sum(t.state in _done_states() for t in trials)
        if done != shown[0]:
            shown[:] = [done, best_text(study, plan, trials)]
        progress(fold.index, folds, done, plan.trials, shown[1])

    report()
    stored = len(_done(study))
    if stored >= plan.trials:
        return study, stored
    train = market.window(fold.train)
    if plan.workers <= 1:
        # The cap counts every process's trials: another process (or machine) on the same study shares them.
        study.optimize(
            objective(plan, train),
            n_trials=plan.trials - len(_done(study)),
            callbacks=[Enough(plan.trials, datetime.now()), lambda _s, _t: report()],
            gc_after_trial=False,
        )
        return study, stored
    # The trial processes open their own connections: none of this one's crosses the fork.
    storage.remove_session()
    storage.engine.dispose()
    # The market's candles were made before the fork and are only read after it: frozen, the collector
    # of a trial process never writes to their pages, so the processes keep sharing them.
    gc.freeze()
    try:
        _in_processes(plan, name, train, report, datetime.now())
    finally:
        gc.unfreeze()
    return study, stored


class Enough:
    """Stops a process's trials once the study's finished trials and those running now (started since
    this search began, in any process) make `trials`: a process whose trial ends while another's is
    still running starts no trial past the count (optuna's MaxTrialsCallback counts finished trials
    only, so each extra process ran one trial too many, and the last ones are the longest)."""

    def __init__(self, trials: int, since: datetime) -> None:
        self.trials = trials
        self.since = since  # local time without a zone, as optuna stores a trial's start

    def __call__(self, study: Any, _trial: Any) -> None:
        from optuna.trial import TrialState

        running = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if t.datetime_start is not None and t.datetime_start >= self.since
        ]
        if len(_done(study)) + len(running) >= self.trials:
            study.stop()


def _in_processes(plan: Plan, name: str, train: dict[str, Any], report: Callable[[], None], since: datetime) -> None:
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx: Any = mp.get_context(method)
    procs = [
        ctx.Process(target=work, args=(plan, name, train, w, since), name=f"{name}-w{w}") for w in range(plan.workers)
    ]
    for p in procs:
        p.start()
    try:
        for p in procs:
            while p.is_alive():
                p.join(POLL_S)
                report()
    finally:
        for p in procs:  # interrupted: stop the trial processes this search started
            if p.is_alive():
                p.terminate()
                p.join()
    failed = [p for p in procs if p.exitcode]
    if failed:
        raise SearchError(
            f"{len(failed)} trial process(es) of {name} failed (exit code {failed[0].exitcode}); its error is above. "
            "The finished trials are stored: run the same command again to resume"
        )
    report()


def work(plan: Plan, name: str, train: dict[str, Any], worker: int, since: datetime | None = None) -> None:
    """One trial process: trials of study `name` until its finished and running trials make `plan.trials`
    (`since`: when the search started, so that a trial left running by a dead process is not counted)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=open_storage(plan.storage), sampler=sampler(plan, worker))
    left = plan.trials - len(_done(study))
    if left <= 0:
        return
    study.optimize(
        objective(plan, train),
        n_trials=left,
        callbacks=[Enough(plan.trials, since or datetime.now())],
        gc_after_trial=False,
    )


def objective(plan: Plan, train: dict[str, Any]) -> Callable[[Any], float | Sequence[float]]:
    # Buy-and-hold over the window is the same for every trial of it: made by the first, then reused.
    held: list[list[float]] = []

    def run(trial: Any) -> float | Sequence[float]:
        import optuna

        params = suggest(trial, plan.space)
        try:
            settings = with_params(plan.settings, params)
        except InvalidParamsError as exc:
            trial.set_user_attr("refused", str(exc)[:500])
            raise optuna.TrialPruned(str(exc)) from None
        result = evaluate(settings, train, plan.cash, buy_hold=held[0] if held else None)
        held[:] = [result.buy_hold]
        figures = result.figures()
        trial.set_user_attr("figures", {k: _plain(v) for k, v in figures.items()})
        trial.set_user_attr("pid", os.getpid())
        values = [score(o, figures, plan.min_trades) for o in plan.objectives]
        return values[0] if len(values) == 1 else values

    return run


def _plain(v: float) -> float | None:
    """A figure as JSON can store it (NaN: none)."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def sampler(plan: Plan, worker: int) -> Any:
    import optuna

    seed = None if plan.seed is None else plan.seed + worker
    if len(plan.objectives) > 1:
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def open_storage(url: str) -> Any:
    import warnings

    import optuna

    # The heartbeat (which marks the trials of a dead process failed, so a resumed search redoes them)
    # is marked experimental by optuna; it has been there since 2.9.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    sqlite = url.startswith("sqlite:")
    if sqlite and url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}} if sqlite else {"pool_pre_ping": True}
    try:
        storage = optuna.storages.RDBStorage(
            url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=3 * HEARTBEAT_S
        )
        if sqlite and storage.engine.url.database not in (None, "", ":memory:"):
            _write_ahead(storage.engine)
        return storage
    except ImportError as exc:
        raise SearchError(f"the storage {masked(url)} needs a database driver: {exc.name or exc} is missing") from None
    except Exception as exc:  # sqlalchemy's errors: a bad URL, a database that does not answer
        raise SearchError(f"cannot open the study storage {masked(url)}: {type(exc).__name__}") from None


def _write_ahead(engine: Any) -> None:
    """SQLite in write-ahead-log mode, synced at its checkpoints rather than at every commit: optuna
    commits each drawn parameter on its own, and a trial of twenty parameters waited a quarter of a
    second for the disk (the file's journal synced twenty-odd times). A power cut can lose the last
    trials (never corrupt the file); a resumed search runs them again."""
    from sqlalchemy import event

    def pragmas(conn: Any, _record: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", pragmas)
    engine.dispose()  # the connections made while the storage was set up reconnect with the pragmas


def masked(url: str) -> str:
    """The storage URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(the storage URL, which does not parse)"


def _done_states() -> tuple[Any, ...]:
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED)


def _done(study: Any) -> list[Any]:
    return list(study.get_trials(deepcopy=False, states=_done_states()))


def choose(study: Any, objectives: Sequence[str]) -> Any:
    """The single best trial; with several objectives, the Pareto front's best at the first."""
    from optuna.trial import TrialState

    pool = study.best_trials if len(objectives) > 1 else study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(pool, key=lambda t: (t.values[0], -t.number), default=None)


def best_text(study: Any, plan: Plan, trials: Sequence[Any] | None = None) -> str:
    """The best trial so far, as the progress bar shows it; `trials`: the study's, read already."""
    from optuna.trial import TrialState

    if trials is None:
        trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    valid = [t for t in complete if t.values and t.values[0] > WORST]
    if not valid:
        return f"no trial with {plan.min_trades} trades yet" if complete else "-"
    best = max(valid, key=lambda t: t.values[0])
    text = f"best {plan.objectives[0]} {best.values[0]:.3f} (#{best.number})"
    if len(plan.objectives) > 1:
        text += f", Pareto front {len(study.best_trials)}"
    return text


def _pareto(study: Any, plan: Plan) -> list[dict[str, Any]]:
    front = [t for t in study.best_trials if all(v > WORST for v in t.values)]
    return [
        {"trial": t.number, "values": dict(zip(plan.objectives, t.values, strict=True)), "params": t.params}
        for t in sorted(front, key=lambda t: -t.values[0])
    ]
