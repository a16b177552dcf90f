"""`python -m benchmarks` (`make bench`): run the benchmarks and print their figures."""

from __future__ import annotations

import argparse
import platform
import sys
import time

NAMES = ("throughput", "peer", "portfolio", "load", "cycle", "cold", "cold-gcp", "learned", "search")

DESCRIPTION = """Run Coinswarm's benchmarks and print their figures, each with PASS or MISS against its target.

  throughput  run_backtest over --bars five-minute bars (default 500,000), sma-cross and the committee
              (without and with exit rules), and the time to load that many bars from a CSV file
              target: the committee at 60,000 bars/s or more on one core, and at most 10 % slower with
              a stop-loss, an ROI table and a trailing stop
  peer        the same sma-cross run against backtesting.py's bt.run() on the same bars, side by side
              target: coinswarm time / backtesting.py time <= 1.0
  portfolio   the committee over 3 symbols x --search-bars five-minute bars in one account, beside the
              same symbols backtested one by one (CPU time, best of 5 alternated rounds)
              target: the portfolio no slower per bar (ratio <= 1.0)
  load        the --bars series written as CSV and as Parquet, each loaded 5 times (best time)
              target: a Parquet load of 500,000 bars in 0.3 s or less
  cycle       one cycle over 3 symbols on a temporary SQLite store with the paper broker, fused and
              mesh wiring: p50, p90, p99 over --cycles cycles after --warmup cycles
              target: fused p50 <= 5 ms
  cold        import time of each AWS Lambda entry point in a fresh interpreter (median of 5), in
              Lambda's environment, beside the SDKs it needs alone (boto3, pydantic, aws_lambda_powertools),
              and the import plus the first invocation run offline (so work moved to the first call
              still shows); and the heaviest entry point's whole import with the garbage collector
              resting while it loads (as in Lambda) and running throughout
              target: entry point / SDKs <= 1.25
  cold-gcp    the same for each Google Cloud Functions entry point, beside google.cloud.pubsub,
              functions_framework and pydantic
              target: entry point / SDKs <= 1.25
  search      `coinswarm optimize`'s walk-forward search of the committee: 3 symbols x --search-bars bars
              (default 100,000), 5 folds, --search-trials trials in all (default 200), one process per core;
              --profile also profiles one trial
              target: at most 10 minutes and 1.5 GB
  learned     the learned agent's observe (features + pure-Python forest) per candle on a real file,
              with a default-size model; the model's size and load time; the agent module's import
              target: p99 <= 1 ms per candle

The backtest data are the real files ../shared/data/ohlcv/*_BTC-5m.csv.gz next to this checkout,
stitched end to end and repeated; without that folder, a synthetic series (the output says so).
No benchmark uses the network. The full run takes a few minutes."""

EXAMPLES = """examples:
  python -m benchmarks
  python -m benchmarks --only cycle --cycles 5000
  python -m benchmarks --only throughput --only peer --bars 100000
  python -m benchmarks --only search --profile"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--only",
        action="append",
        choices=NAMES,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(NAMES)}",
    )
    p.add_argument("--bars", type=int, default=500_000, help="bars for the backtest benchmarks (default 500,000)")
    p.add_argument("--cycles", type=int, default=2_000, help="timed cycles per wiring (default 2,000)")
    p.add_argument("--warmup", type=int, default=200, help="untimed warm-up cycles per wiring (default 200)")
    p.add_argument("--search-bars", type=int, default=100_000, help="search: bars per symbol (default 100,000)")
    p.add_argument("--search-trials", type=int, default=200, help="search: trials over all folds (default 200)")
    p.add_argument("--profile", action="store_true", help="search: also profile one trial")
    p.add_argument("--no-csv", action="store_true", help="skip timing the CSV load of the whole series")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.bars < 1_000:
        parser().error("--bars must be at least 1,000")
    if args.cycles < 10 or args.warmup < 1:
        parser().error("--cycles must be at least 10 and --warmup at least 1")
    chosen = [n for n in NAMES if args.only is None or n in args.only]
    print(
        f"Coinswarm benchmarks: {', '.join(chosen)} · Python {platform.python_version()} · "
        f"{platform.machine()} · {_cores()} cores · {time.strftime('%Y-%m-%d %H:%M:%S')}"
    )
    outcomes: dict[str, bool] = {}
    started = time.perf_counter()
    if "throughput" in chosen or "peer" in chosen:
        outcomes.update(_backtests(args, chosen))
    if "portfolio" in chosen:
        from . import portfolio_throughput

        print()
        outcomes["portfolio"] = portfolio_throughput.report(portfolio_throughput.measure(args.search_bars))
    if "load" in chosen:
        from . import candle_loading
        from .series import backtest_series

        print()
        outcomes["load"] = candle_loading.report(candle_loading.measure(backtest_series(args.bars).candles))
    if "cycle" in chosen:
        from . import cycle_latency

        print()
        outcomes["cycle"] = cycle_latency.report(cycle_latency.run(args.cycles, args.warmup))
    if "cold" in chosen:
        from . import cold_start

        print()
        outcomes["cold"] = cold_start.report(*cold_start.measure())
    if "cold-gcp" in chosen:
        from . import cold_start_gcp

        print()
        outcomes["cold-gcp"] = cold_start_gcp.report(cold_start_gcp.measure())
    if "search" in chosen:
        from . import optimize_timing

        print()
        if args.profile:
            print(optimize_timing.profile(args.search_bars))
        outcomes["search"] = optimize_timing.report(optimize_timing.measure(args.search_bars, args.search_trials))
    if "learned" in chosen:
        from . import learned_inference

        print()
        outcomes["learned"] = learned_inference.report(learned_inference.measure())
    print()
    summary = ", ".join(f"{name} {'PASS' if ok else 'MISS'}" for name, ok in outcomes.items())
    print(f"== summary: {summary} (in {time.perf_counter() - started:.0f} s)")
    return 0


def _backtests(args: argparse.Namespace, chosen: list[str]) -> dict[str, bool]:
    from . import backtest_throughput as tp
    from .series import backtest_series

    outcomes: dict[str, bool] = {}
    series = backtest_series(args.bars)
    print(f"\n(replaying {len(series.candles):,} bars; sma-cross first, then the committee: this takes a while)")
    sma = tp.run_strategy(series.candles, tp.SMA_CROSS)
    if "throughput" in chosen:
        committee = tp.run_strategy(series.candles, tp.COMMITTEE)
        with_exits = tp.run_strategy(series.candles, tp.COMMITTEE_EXITS, tp.EXITS_LABEL)
        cost = tp.exits_cost(series.candles)
        csv = None if args.no_csv else tp.csv_times(series.candles)
        print()
        outcomes["throughput"] = tp.report(series, [sma, committee, with_exits], csv, cost)
    if "peer" in chosen:
        from . import peer_ratio

        print()
        try:
            import backtesting  # noqa: F401
        except ImportError:
            outcomes["peer"] = peer_ratio.report(sma, None, "backtesting.py is not installed: pip install -e '.[dev]'")
            return outcomes
        opts = tp.SMA_CROSS
        peer = peer_ratio.run_peer(
            series.candles,
            fast=opts.fast,
            slow=opts.slow,
            fee_bps=opts.fee_bps or 0.0,
            cash=sma.start_equity,
        )
        outcomes["peer"] = peer_ratio.report(sma, peer)
    return outcomes


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
