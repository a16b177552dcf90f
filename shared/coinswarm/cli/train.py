"""`coinswarm train FILES...`: fit the learned agent's model, judged on walk-forward folds first."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from coinswarm.cli.common import add_config_arg, add_state_arg, fail, open_configured, settings_from
from coinswarm.domain.models import iso

HELP = """Train the `learned` agent's model (docs/agents-learned.md).

Each file's candles become samples: the features the agent computes at a candle's close, and the
label, the log return to the close --horizon candles later minus a round trip's fees (twice
paper.fee_bps, or --fee-bps). The files (all of one candle length) are pooled on one time grid and
split into --folds walk-forward folds: each fold trains on the past only, with a purge of --horizon
candles (no training label reaches into its test window) plus --embargo candles, and is scored on
its test window. The out-of-sample metrics per fold are printed; then the model is fitted on every
sample and written to --out with its features, training window, metrics and checksum.

Needs scikit-learn (pip install -e '.[learn]'); the agent itself does not."""

EXAMPLES = """examples:
  coinswarm train ../shared/data/ohlcv/*-5m.csv.gz
  coinswarm train ETH_BTC-5m.csv.gz --horizon 24 --folds 5 --out models/learned.json --json"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="train the learned agent's model with walk-forward folds",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument("files", nargs="+", help="candle files (CSV, optionally .gz, or Parquet), one candle length")
    p.add_argument("--horizon", type=int, default=12, help="candles the label looks ahead (default 12)")
    p.add_argument("--folds", type=int, default=4, help="walk-forward folds (default 4)")
    p.add_argument("--embargo", type=int, default=12, help="candles left out after the purge (default 12)")
    p.add_argument("--fee-bps", type=float, help="one side's fee in bps for the label (default paper.fee_bps)")
    p.add_argument("--out", default="models/learned.json", help="where to write the model (default %(default)s)")
    p.add_argument(
        "--publish",
        nargs="?",
        const="model:learned",
        metavar="KEY",
        help="also put the model in the configured state store under KEY (default model:learned), where "
        'a cloud function reads it with [agents.learned] model = "state:KEY"',
    )
    add_state_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from coinswarm.learning.training import TrainingError, fit_artifact, samples, walk_forward_eval
    from coinswarm.marketdata.candle_files import CandleFileError, load_candles

    settings = settings_from(args)
    fee_bps = settings.paper.fee_bps if args.fee_bps is None else args.fee_bps
    if fee_bps < 0:
        fail("--fee-bps must be 0 or more")
    pooled: list[Any] = []
    timeframes: dict[int, str] = {}
    for path in args.files:
        try:
            loaded = load_candles(path)
        except FileNotFoundError:
            fail(f"no file {path}")
        except (CandleFileError, ValueError) as exc:
            fail(str(exc))
        timeframes.setdefault(loaded.timeframe_s, path)
        try:
            pooled.extend(samples(loaded.candles, args.horizon, fee_bps))
        except TrainingError as exc:
            fail(str(exc))
    if len(timeframes) > 1:
        shown = ", ".join(f"{tf} s ({p})" for tf, p in timeframes.items())
        fail(f"the files have different candle lengths: {shown}; train one model per candle length")
    (timeframe_s,) = timeframes
    started = time.perf_counter()
    try:
        folds = walk_forward_eval(
            pooled, timeframe_s=timeframe_s, horizon=args.horizon, folds=args.folds, embargo=args.embargo
        )
        per_fold = [f.to_json() for f in folds]
        metrics = {"folds": per_fold, "mean_ic": round(sum(f.metrics["ic"] for f in folds) / len(folds), 6)}
        artifact = fit_artifact(pooled, timeframe_s=timeframe_s, horizon=args.horizon, fee_bps=fee_bps, metrics=metrics)
    except TrainingError as exc:
        fail(str(exc))
    out = artifact.write(args.out)
    if args.publish:  # the state file (--state, or the last run's), or the cloud store configured
        open_configured(args, settings).state.put(args.publish, json.loads(artifact.dumps()))
    elapsed = time.perf_counter() - started
    if args.json:
        summary = {"model": str(out), "version": artifact.version, "samples": len(pooled), "published": args.publish}
        print(json.dumps({**summary, **metrics}))
        return 0
    print(
        f"{len(pooled)} samples from {len(args.files)} file(s), horizon {args.horizon} candles, "
        f"fees 2 x {fee_bps:g} bps"
    )
    print("out of sample, per fold:")
    print(
        f"  {'fold':>4} {'test from':<21} {'to':<21} {'train':>7} {'test':>6} {'IC':>7} {'hit':>6} "
        f"{'buy bps':>8} {'all bps':>8}"
    )
    for f in folds:
        m = f.metrics
        print(
            f"  {f.fold.index:>4} {iso(f.test_start):<21} {iso(f.test_end):<21} {int(m['n_train']):>7} "
            f"{int(m['n_test']):>6} {m['ic']:>7.3f} {m['hit_rate']:>6.3f} {m['buy_mean_bps']:>8.1f} "
            f"{m['all_mean_bps']:>8.1f}"
        )
    print(
        f"mean IC {metrics['mean_ic']:.3f}  (IC: correlation of forecast and outcome; "
        "'buy bps': mean net outcome where the forecast was > 0)"
    )
    print(
        f"model {artifact.version} written to {out} ({out.stat().st_size // 1024} KiB), trained on "
        f"{iso(artifact.train_start)} .. {iso(artifact.train_end)} in {elapsed:.1f} s"
    )
    return 0
