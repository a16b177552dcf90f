"""`coinswarm optimize FILE...`: search the configuration with optuna, judged by walk-forward folds."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from coinswarm.cli.common import add_config_arg, fail, settings_from
from coinswarm.config.settings import SYMBOL_RE
from coinswarm.marketdata.candle_files import CandleFileError, load_candles, symbol_problem

HELP = """Search the configuration's parameters (agents, committee weights, threshold and quorum, exits,
sizing: [optimize.space], else sensible ranges for the built-in agents) with optuna, and judge the
result by walk-forward validation, always.

The bars are split into folds: a train window, a purge gap, then a test window. The search runs on each
train window only; the best parameters of each fold are then backtested on its test window, which no
trial read. The report leads with those out-of-sample figures (the test windows stitched together,
against buy and hold), then in-sample, per fold and in total, and how much was lost out of sample.

Trials run in parallel processes (one per core by default). The study is stored (SQLite under
.coinswarm/ by default), so an interrupted search resumes when run again; several processes or
machines pointed at one --storage URL (PostgreSQL, MySQL) share the work. docs/optimize.md has more."""

EXAMPLES = """examples:
  coinswarm optimize ETH_BTC-5m.csv.gz LTC_BTC-5m.csv.gz --trials 50 --folds 4
  coinswarm optimize ETH_BTC-5m.csv.gz --objective sharpe --objective calmar --min-trades 20 --json
  coinswarm optimize ETH_BTC-5m.csv.gz --plot wf.html --apply tuned.toml
  coinswarm optimize ETH_BTC-5m.csv.gz --storage postgresql://user:pw@db/optuna --study eth-1"""

OPTIONS = {  # option name -> [optimize] setting
    "trials": "trials",
    "folds": "folds",
    "train_bars": "train_bars",
    "test_bars": "test_bars",
    "purge": "purge_bars",
    "embargo": "embargo_bars",
    "objective": "objectives",
    "min_trades": "min_trades",
    "workers": "workers",
    "storage": "storage",
    "study": "study",
    "seed": "seed",
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "optimize",
        help="search the parameters with optuna; report walk-forward out-of-sample results first",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="candle files of one candle size (one per symbol)")
    p.add_argument("--trials", type=int, help="trials per fold (default optimize.trials)")
    p.add_argument("--folds", type=int, help="walk-forward folds (default optimize.folds)")
    p.add_argument("--train-bars", type=int, help="a rolling train window of N bars (default: anchored)")
    p.add_argument("--test-bars", type=int, help="bars per test window (default: bars / (folds + 1))")
    p.add_argument("--purge", type=int, help="bars left out between train and test (default optimize.purge_bars)")
    p.add_argument("--embargo", type=int, help="further bars left out after the purge")
    p.add_argument(
        "--objective",
        action="append",
        choices=["sharpe", "sortino", "calmar", "return_dd", "profit"],
        help="what to maximise; give it twice or more for a Pareto front (default optimize.objectives)",
    )
    p.add_argument("--min-trades", type=int, help="fewer round trips in a window scores as the worst")
    p.add_argument("--workers", type=int, help="trial processes (default: one per core)")
    p.add_argument("--storage", metavar="URL", help="optuna storage URL (default sqlite:///.coinswarm/optimize.db)")
    p.add_argument("--study", help="study name: the same name resumes (default optimize.study)")
    p.add_argument("--seed", type=int, help="sampler seed")
    p.add_argument("--cash", type=float, help="starting cash (default paper.starting_cash)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE", help="the stitched out-of-sample curve: FILE.png or FILE.html")
    p.add_argument("--apply", metavar="FILE", help="write the chosen parameters as a TOML overlay to include")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it shows only on a terminal)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        from coinswarm.research import optimize as opt
        from coinswarm.research import report
    except ImportError as exc:
        fail(f"coinswarm optimize needs optuna ({exc.name} is missing): pip install 'coinswarm[research]'")
    overrides: dict[str, Any] = {
        f"optimize.{setting}": getattr(args, name)
        for name, setting in OPTIONS.items()
        if getattr(args, name) is not None
    }
    settings = settings_from(args, **overrides)
    if args.cash is not None and args.cash <= 0:
        fail("--cash must be above 0")
    market = _market(args.files)
    bar = TrialProgress(enabled=False if args.no_progress or args.json else None)
    started = time.perf_counter()
    try:
        result = opt.search(settings, market, cash=args.cash, progress=bar.update)
    except KeyboardInterrupt:
        bar.close()
        fail(
            f"interrupted: the finished trials are stored in {opt.masked(settings.optimize.storage)}; "
            "run the same command again to resume",
            130,
        )
    except ValueError as exc:  # SearchError, FoldError, MarketError, InvalidParamsError
        bar.close()
        fail(str(exc))
    bar.close()
    elapsed = time.perf_counter() - started
    if args.plot:
        try:
            report.picture(result, args.plot)
        except ImportError:
            fail("a PNG needs matplotlib: pip install 'coinswarm[plot]', or give --plot FILE.html")
    if args.apply:
        from coinswarm.research.overlay import overlay_params, write_overlay

        last = result.folds[-1]
        note = (
            f"Chosen by coinswarm optimize ({', '.join(result.plan.objectives)}) "
            f"on fold {last.fold.index}'s train window;\n"
            f"out of sample on its test window: return {last.out_of_sample['return_pct']:+.2f} %, "
            f"{last.out_of_sample['trades']} trades.\n"
            f'Use it with include = ["{args.apply}"] at the top of coinswarm.toml.'
        )
        write_overlay(args.apply, overlay_params(settings, result.chosen), note)
    if args.json:
        print(json.dumps({**report.to_json(result), "elapsed_s": round(elapsed, 3)}))
    else:
        print(report.text(result))
        print(f"\n{ran_text(result)} in {elapsed:.1f} s")
        if args.plot:
            print(f"picture: {args.plot}")
        if args.apply:
            print(f'overlay: {args.apply} (add include = ["{args.apply}"] to coinswarm.toml)')
    return 0


def ran_text(result: Any) -> str:
    """How many trials this command ran, and how many an earlier run had stored (a resumed search)."""
    stored = sum(f.stored for f in result.folds)
    ran = sum(f.trials for f in result.folds) - stored
    if not stored:
        return f"{ran} trials"
    if not ran:
        return f"no trial to run: the study held all {stored} (give another --study to search afresh)"
    return f"{ran} trials (resumed: the study held {stored} more)"


def _market(files: list[str]) -> Any:
    from coinswarm.research.walkforward import MarketError, market_from

    series: dict[str, Any] = {}
    for path in files:
        try:
            cf = load_candles(path)
        except FileNotFoundError:
            fail(f"no candle file at {path}")
        except (CandleFileError, OSError) as exc:
            fail(str(exc))
        problem = symbol_problem(cf)
        if problem is not None or not SYMBOL_RE.match(cf.symbol):
            fail(f"{path}: {problem or 'no symbol in its name'}: name it like ETH_BTC-5m.csv.gz")
        if cf.symbol in series:
            fail(f"{path}: a second file for {cf.symbol}: give one file per symbol")
        series[cf.symbol] = cf.candles
    try:
        return market_from(series)
    except MarketError as exc:
        fail(str(exc))


class TrialProgress:
    """Trials done in the fold, and the best so far, on stderr, redrawn in place."""

    def __init__(self, out: TextIO | None = None, enabled: bool | None = None) -> None:
        self.out = out or sys.stderr
        self.enabled = self.out.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self.drawn = False

    def update(self, fold: int, folds: int, done: int, total: int, best: str) -> None:
        if not self.enabled:
            return
        frac = min(1.0, done / max(1, total))
        bar = "#" * int(frac * 20)
        self.out.write(
            f"\rfold {fold + 1}/{folds} [{bar:<20}] {done}/{total} trials · {best} · "
            f"{time.perf_counter() - self.start:.0f} s\033[K"
        )
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.enabled and self.drawn:
            self.out.write("\n")
            self.out.flush()
            self.drawn = False
