"""Cold start on Google Cloud: the import time of each GCP entry point (`functions/<name>/gcp.py`),
beside the import time of the SDKs such a function cannot do without, imported alone:
google.cloud.pubsub, functions_framework and pydantic. `import pydantic` alone loads little (its
attributes are imported on first use), so pydantic is counted as `from pydantic import BaseModel, Field`
imports it (`import_timing.PYDANTIC`): what any code that defines a model loads.

Each figure is the median of RUNS fresh interpreters (`python -c`), timed inside the interpreter around
the import alone, so the interpreter's own start-up (the same for both) is left out. Each sample is one
interpreter that imports the SDKs alone, then the entry point on top of them: the entry point's whole
import is the two together, and one moment of a busy machine hits both alike. The ratio entry
point / SDKs says what Coinswarm's code adds to a cold start: the configuration model, the messages and
the domain records they carry, the Pub/Sub bus and the composition root, which builds (and imports) a
function's own stage only on its first call (target: at most 1.25, on wall-clock time). The CPU
time of the same imports is shown beside it: on a machine busy with other work, wall-clock figures
swing by a third from run to run, and the CPU figures much less.
"first ms" is the import plus the first invocation as far as it goes offline (see
`benchmarks.first_call`: the runtime, the App and the function's own stage, the message decoded, the
stage run, its output encoded),
in another fresh interpreter: work moved out of the import to the first call still shows there.

Run it alone with `python -m benchmarks.cold_start_gcp [--runs N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from coinswarm.config.deploy import PACKAGED

from . import first_call
from .import_timing import PYDANTIC, ColdStart, Sample, compile_project, paired

ENTRY_POINTS = PACKAGED  # every function that has a zip, the push receiver too
SDKS = ("google.cloud.pubsub", "functions_framework", *PYDANTIC)
RUNS = 5
TARGET_RATIO = 1.25


def measure(runs: int = RUNS, only: list[str] | None = None) -> list[ColdStart]:
    """Every run, for each entry point (or those `only` names): the SDKs' import and then its own on top
    (`paired`, so a busy moment hits both alike), then its import and first call."""
    points = [name for name in ENTRY_POINTS if not only or name in only]
    sdk: dict[str, list[Sample]] = {name: [] for name in points}
    entry: dict[str, list[Sample]] = {name: [] for name in points}
    first: dict[str, list[Sample]] = {name: [] for name in points}
    compile_project()  # both sides from bytecode (see benchmarks.import_timing)
    bodies, request = first_call.sample_bodies(), first_call.signed_trade()
    with first_call.scratch_dir() as scratch:
        for _ in range(runs):
            for name in points:
                alone, got = paired(SDKS, f"functions.{name}.gcp", "gcp")
                sdk[name].append(alone)
                entry[name].append(got)
                first[name].append(first_call.run_probe("gcp", name, bodies, request, scratch))
    return [ColdStart.of(name, SDKS, sdk[name], entry[name], first[name]) for name in points]


def report(results: list[ColdStart]) -> bool:
    every = [ms for r in results for ms in r.sdk_ms]
    print("== cold start, Google Cloud: import time of each entry point vs the SDKs it needs " + "=" * 16)
    print(
        f"SDKs       {' + '.join(SDKS)}: {statistics.median(every):.0f} ms over all samples; "
        f"median of {len(results[0].sdk_ms)} fresh interpreters per figure"
    )
    heads = f"{'SDKs ms':>9}{'entry ms':>10}{'min':>7}{'max':>7}{'added ms':>10}{'ratio':>8}{'CPU ratio':>11}"
    print(f"{'':11}{'entry point':<18}{heads}{'first ms':>10}{'CPU':>6}")
    for r in results:
        print(
            f"{'':11}{r.name:<18}{r.sdk_median_ms:>9.0f}{r.entry_median_ms:>10.0f}{min(r.entry_ms):>7.0f}{max(r.entry_ms):>7.0f}"
            f"{r.entry_median_ms - r.sdk_median_ms:>10.0f}{r.ratio:>8.2f}{r.cpu_ratio:>11.2f}"
            f"{statistics.median(r.first_ms):>10.0f}{statistics.median(r.first_cpu_ms):>6.0f}"
        )
    print(f"{'':11}first ms: import + first invocation offline (benchmarks.first_call), wall clock and CPU")
    worst = max(r.ratio for r in results)
    met = worst <= TARGET_RATIO
    verdict = "PASS" if met else "MISS"
    print(f"target     entry point / SDKs <= {TARGET_RATIO:.2f} (wall clock) for each: worst {worst:.2f} -> {verdict}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start_gcp", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"fresh interpreters per figure (default {RUNS})")
    parser.add_argument("--only", choices=list(ENTRY_POINTS), action="append", help="only this entry point")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    report(measure(args.runs, args.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
