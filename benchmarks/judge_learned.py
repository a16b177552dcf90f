"""`make judge-learned`: the committee with the learned agent against the committee without it and
buy-and-hold, out of sample only (walk-forward folds), per file and in total, on the reference data
(../shared/data/ohlcv next to this checkout). See coinswarm.research.judge_learned for the method.

    python -m benchmarks.judge_learned [FILES...] [--folds 4] [--horizon 12] [--embargo 12] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from coinswarm.config.settings import Settings
from coinswarm.domain.models import iso
from coinswarm.marketdata.candle_files import load_candles
from coinswarm.research.judge_learned import judge, table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ohlcv"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.judge_learned", description=__doc__)
    p.add_argument("files", nargs="*", help=f"candle files (default: every file in {DATA})")
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--horizon", type=int, default=12)
    p.add_argument("--embargo", type=int, default=12)
    p.add_argument("--weight", type=float, default=1.0, help="the learned agent's committee weight (default 1)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    paths = args.files or sorted(str(f) for f in DATA.glob("*.csv.gz"))
    if not paths:
        print(f"no candle files given and none in {DATA}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    files = [load_candles(f) for f in paths]
    j = judge(files, Settings(), folds=args.folds, horizon=args.horizon, embargo=args.embargo, weight=args.weight)
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({"per_file": j.per_file, "total": j.total, "folds": j.folds, "notes": j.notes}))
        return 0
    print(
        f"out of sample only: {len(paths)} files, {args.folds} walk-forward folds, label horizon {args.horizon}, "
        f"embargo {args.embargo}, learned weight {args.weight:g}, default committee and paper fees"
    )
    for row in j.folds:
        print(f"  group {row['group']} fold {row['fold']}: test {iso(row['test_start'])} .. {iso(row['test_end'])}")
    print(table(j))
    print(f"the learned agent voted on {j.learned_votes} test candles")
    for note in j.notes:
        print(f"note: {note}")
    print(f"({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
