"""Cold start on Google Cloud: the import time of each GCP entry point (`functions/<name>/gcp.py`),
beside the import time of the SDKs such a function cannot do without, imported alone:
google.cloud.pubsub, functions_framework and pydantic. `import pydantic` alone loads little (its
attributes are imported on first use), so pydantic is counted as `pydantic.main`, where BaseModel
lives: what any code that defines or validates a model loads (about 40 ms more than `import pydantic`).

Each figure is the median of RUNS fresh interpreters (`python -c`), timed inside the interpreter around
the import alone, so the interpreter's own start-up (the same for both) is left out. The ratio entry
point / SDKs says what Coinswarm's code adds to a cold start: the composition root, the stages, the
domain, the configuration model, the Pub/Sub bus (target: at most 1.25, on wall-clock time). The CPU
time of the same imports is shown beside it: on a machine busy with other work, wall-clock figures
swing by a third from run to run, and the CPU figures much less.
"first ms" is the import plus the first invocation as far as it goes offline (see
`benchmarks.first_call`: the runtime and App, the message decoded, the stage run, its output encoded),
in another fresh interpreter: work moved out of the import to the first call still shows there.

Run it alone with `python -m benchmarks.cold_start_gcp [--runs N]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from dataclasses import dataclass

from . import first_call

ENTRY_POINTS = ("tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging", "manual_trade")
SDKS = ("google.cloud.pubsub", "functions_framework", "pydantic.main")
RUNS = 5
TARGET_RATIO = 1.25


@dataclass(frozen=True)
class ColdStart:
    """One entry point's import times beside the SDKs' (wall clock and CPU, one sample per interpreter)."""

    name: str
    sdk_ms: list[float]
    entry_ms: list[float]
    sdk_cpu_ms: list[float]
    entry_cpu_ms: list[float]
    first_ms: list[float]
    first_cpu_ms: list[float]

    @property
    def sdk_median_ms(self) -> float:
        return statistics.median(self.sdk_ms)

    @property
    def entry_median_ms(self) -> float:
        return statistics.median(self.entry_ms)

    @property
    def ratio(self) -> float:
        return self.entry_median_ms / self.sdk_median_ms

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.entry_cpu_ms) / statistics.median(self.sdk_cpu_ms)


def timed_import(modules: tuple[str, ...]) -> tuple[float, float]:
    """Milliseconds (wall clock, CPU) to import `modules` in a fresh interpreter."""
    code = (
        "import importlib, time\n"
        "wall, cpu = time.perf_counter(), time.process_time()\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print((time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, cpu = done.stdout.split()
    return float(wall), float(cpu)


def measure(runs: int = RUNS) -> list[ColdStart]:
    """The SDKs alone, then each entry point's import and its import and first call, in every run:
    interleaved, so a busy moment hits all alike."""
    sdk: list[tuple[float, float]] = []
    entry: dict[str, list[tuple[float, float]]] = {name: [] for name in ENTRY_POINTS}
    first: dict[str, list[tuple[float, float]]] = {name: [] for name in ENTRY_POINTS}
    bodies, request = first_call.sample_bodies(), first_call.signed_trade()
    with first_call.scratch_dir() as scratch:
        for _ in range(runs):
            sdk.append(timed_import(SDKS))
            for name, samples in entry.items():
                samples.append(timed_import((f"functions.{name}.gcp",)))
                first[name].append(first_call.run_probe("gcp", name, bodies, request, scratch))
    walls, cpus = [w for w, _ in sdk], [c for _, c in sdk]
    return [
        ColdStart(
            name,
            walls,
            [w for w, _ in got],
            cpus,
            [c for _, c in got],
            [w for w, _ in first[name]],
            [c for _, c in first[name]],
        )
        for name, got in entry.items()
    ]


def report(results: list[ColdStart]) -> bool:
    first = results[0]
    print("== cold start, Google Cloud: import time of each entry point vs the SDKs it needs " + "=" * 16)
    print(
        f"SDKs       {' + '.join(SDKS)}: {first.sdk_median_ms:.0f} ms "
        f"(CPU {statistics.median(first.sdk_cpu_ms):.0f} ms); median of {len(first.sdk_ms)} fresh interpreters"
    )
    heads = f"{'entry ms':>10}{'min':>7}{'max':>7}{'added ms':>10}{'ratio':>8}{'CPU ratio':>11}"
    print(f"{'':11}{'entry point':<18}{heads}{'first ms':>10}{'CPU':>6}")
    for r in results:
        print(
            f"{'':11}{r.name:<18}{r.entry_median_ms:>10.0f}{min(r.entry_ms):>7.0f}{max(r.entry_ms):>7.0f}"
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
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    report(measure(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
