"""Cold start on AWS: the import time of each AWS Lambda entry point (`functions/<name>/aws.py`) beside
the import time of the SDKs it needs, imported alone: boto3, pydantic and aws_lambda_powertools, with
the powertools utilities that entry point uses (the batch utility for the four SQS consumers, the
idempotency utility for order placement). pydantic is imported as `from pydantic import BaseModel,
Field` imports it (`import_timing.PYDANTIC`): a bare `import pydantic` defers its modules until the
first model, which would put pydantic's own import on Coinswarm's side of the ratio.

Each figure is the median of RUNS fresh interpreters (`python -c`), timed inside the interpreter with
perf_counter around the import alone, so the interpreter's own start-up (the same for both) is left
out. Each sample is one interpreter that imports the SDKs alone, then the entry point on top of them:
the entry point's whole import is the two together, and one moment of a busy machine hits both alike.
The ratio entry point / SDKs says what Coinswarm's code adds to a cold start: the configuration model,
the messages and the domain records they carry, the SQS bus and the composition root, which builds
(and imports) a function's own stage only on its first call (target: at most 1.25, on wall-clock
time). The CPU time of the same imports is shown beside it: on a busy machine wall-clock figures
swing, CPU figures much less.

"first ms" is the import plus the first invocation as far as it goes offline (see
`benchmarks.first_call`: the App and the function's own stage, the SQS bus, the message decoded, the
stage run, its output encoded),
in another fresh interpreter: work moved out of the import to the first call still shows there.

Every interpreter runs in the environment Lambda gives a function (`import_timing.RUNTIME_ENV`), so
the entry point loads as it does there: with the garbage collector resting until its modules are in
(`functions.cold_start`). The "collector" line shows what that rest is worth where it counts, on the
whole import of the heaviest entry point, SDKs included (in Lambda they load under the rest too): as
Lambda loads it, and with the collector running throughout.

Run it alone with `python -m benchmarks.cold_start [--runs N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from . import first_call
from .import_timing import PYDANTIC, ColdStart, Sample, compile_project, paired, whole_import

SDKS = ("boto3", *PYDANTIC, "aws_lambda_powertools")
BATCH = ("aws_lambda_powertools.utilities.batch",)
IDEMPOTENCY = ("aws_lambda_powertools.utilities.idempotency",)
ENTRY_POINTS: dict[str, tuple[str, ...]] = {
    "tick_ingest": SDKS,
    "agent_scoring": SDKS + BATCH,
    "committee_vote": SDKS + BATCH,
    "order_placement": SDKS + BATCH + IDEMPOTENCY,
    "trade_logging": SDKS + BATCH,
    "manual_trade": SDKS,
    "push_receiver": SDKS,
    "telegram_webhook": SDKS,
}
RUNS = 5
TARGET_RATIO = 1.25
WHOLE = "order_placement"  # the heaviest entry point: its whole import with and without the collector's rest
WHOLE_PER_RUN = 3  # a difference of a tenth needs more samples than a ratio does


def measure(runs: int = RUNS, only: list[str] | None = None) -> tuple[list[ColdStart], dict[str, list[Sample]]]:
    """Every run, for each entry point: its SDKs' import and then its own on top (`paired`), then its
    import and first call; and WHOLE's whole import as Lambda loads it ("paused") and with the
    collector running throughout ("running", `whole_import`)."""
    points = {name: sdks for name, sdks in ENTRY_POINTS.items() if not only or name in only}
    sdk: dict[str, list[Sample]] = {name: [] for name in points}
    entry: dict[str, list[Sample]] = {name: [] for name in points}
    first: dict[str, list[Sample]] = {name: [] for name in points}
    whole: dict[str, list[Sample]] = {"paused": [], "running": []}
    compile_project()  # both sides from bytecode (see benchmarks.import_timing)
    bodies, request = first_call.sample_bodies(), first_call.signed_trade()
    with first_call.scratch_dir() as scratch:
        for _ in range(runs):
            for name, modules in points.items():
                alone, got = paired(modules, f"functions.{name}.aws", "aws")
                sdk[name].append(alone)
                entry[name].append(got)
                first[name].append(first_call.run_probe("aws", name, bodies, request, scratch))
            for _ in range(WHOLE_PER_RUN if not only else 0):  # alternated, so that a busy moment hits both alike
                whole["paused"].append(whole_import(f"functions.{WHOLE}.aws", "aws"))
                whole["running"].append(whole_import(f"functions.{WHOLE}.aws", None))
    results = [ColdStart.of(name, sdks, sdk[name], entry[name], first[name]) for name, sdks in points.items()]
    return results, whole


def report(results: list[ColdStart], whole: dict[str, list[Sample]] | None = None) -> bool:
    runs = len(results[0].entry_ms)
    print("== cold start, AWS Lambda: import time of each entry point vs the SDKs it needs " + "=" * 19)
    print(f"SDKs       {' + '.join(SDKS)} (+ the powertools utilities marked); median of {runs} fresh interpreters")
    heads = f"{'SDKs ms':>9}{'entry ms':>10}{'min':>7}{'max':>7}{'added ms':>10}{'ratio':>8}{'CPU ratio':>11}"
    print(f"{'':11}{'entry point':<18}{heads}{'first ms':>10}{'CPU':>6}")
    for r in results:
        extra = "+ batch" if BATCH[0] in r.sdks else ""
        extra += " + idempotency" if IDEMPOTENCY[0] in r.sdks else ""
        print(
            f"{'':11}{r.name:<18}{r.sdk_median_ms:>9.0f}{r.entry_median_ms:>10.0f}{min(r.entry_ms):>7.0f}"
            f"{max(r.entry_ms):>7.0f}{r.entry_median_ms - r.sdk_median_ms:>10.0f}{r.ratio:>8.2f}{r.cpu_ratio:>11.2f}"
            f"{statistics.median(r.first_ms):>10.0f}{statistics.median(r.first_cpu_ms):>6.0f}  {extra}"
        )
    print(f"{'':11}first ms: import + first invocation offline (benchmarks.first_call), wall clock and CPU")
    if whole and whole["paused"]:
        paused, running = (statistics.median(w for w, _ in whole[k]) for k in ("paused", "running"))
        cpus = [statistics.median(c for _, c in whole[k]) for k in ("paused", "running")]
        print(
            f"collector  {WHOLE}'s whole import, SDKs included (median of {len(whole['paused'])}): "
            f"{paused:.0f} ms (CPU {cpus[0]:.0f}) as Lambda loads it (functions.cold_start), "
            f"{running:.0f} ms (CPU {cpus[1]:.0f}) with the collector running throughout: "
            f"{(1 - cpus[0] / cpus[1]) * 100:.0f} % of the CPU saved"
        )
    worst = max(r.ratio for r in results)
    met = worst <= TARGET_RATIO
    verdict = "PASS" if met else "MISS"
    print(f"target     entry point / SDKs <= {TARGET_RATIO:.2f} for each: worst {worst:.2f} -> {verdict}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"fresh interpreters per figure (default {RUNS})")
    parser.add_argument("--only", choices=list(ENTRY_POINTS), action="append", help="only this entry point")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    report(*measure(args.runs, args.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
