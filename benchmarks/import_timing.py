"""What both cold-start benchmarks (AWS, Google Cloud) measure with: in one fresh interpreter, the SDKs'
import and then an entry point's on top of it (`paired`), and one entry point's samples beside the
SDKs' (wall clock and CPU, medians).

Both sides are loaded from bytecode. pip compiled the SDKs when it installed them; Coinswarm's own
modules are compiled by `compile_project` before the first sample. Without it, a machine that does not
write bytecode (PYTHONDONTWRITEBYTECODE set, a read-only checkout) compiles every Coinswarm module from
source in each fresh interpreter, and the ratio would count compilation on Coinswarm's side only."""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PYDANTIC = ("pydantic.main", "pydantic.fields")
"""pydantic as the SDK side of both benchmarks counts it: what `from pydantic import BaseModel, Field`
loads, which is what defining any model loads. `import pydantic` alone loads little (its attributes are
imported on first use); `pydantic.main` is where BaseModel lives; `pydantic.fields` (with
`pydantic.types` and `annotated_types`, some 15 ms) is loaded by the first class statement of any model,
to collect its fields. Left out, pydantic's own modules would be counted on Coinswarm's side."""

RUNTIME_ENV = {
    "aws": {"AWS_LAMBDA_FUNCTION_NAME": "coinswarm-benchmark"},
    "gcp": {"FUNCTION_TARGET": "coinswarm-benchmark"},
}
"""What each cloud's runtime sets in a deployed function's environment and `functions.cold_start`
looks for: an entry point is timed as it loads in its cloud (its garbage collector paused while it
loads). The SDKs, imported first in the same interpreter, load as anyone's would: before the entry
point's package, so with the collector running."""

ROOT = Path(__file__).resolve().parents[1]
PROJECT_SOURCES = (ROOT / "shared" / "coinswarm", ROOT / "functions")

Sample = tuple[float, float]  # (wall ms, CPU ms) of one fresh interpreter


@dataclass(frozen=True)
class ColdStart:
    """One entry point's import times beside the SDKs' (wall clock and CPU, one sample per interpreter)."""

    name: str
    sdks: tuple[str, ...]
    sdk_ms: list[float]
    entry_ms: list[float]
    sdk_cpu_ms: list[float]
    entry_cpu_ms: list[float]
    first_ms: list[float]
    first_cpu_ms: list[float]

    @classmethod
    def of(
        cls, name: str, sdks: tuple[str, ...], sdk: list[Sample], entry: list[Sample], first: list[Sample]
    ) -> ColdStart:
        def walls(samples: list[Sample]) -> list[float]:
            return [w for w, _ in samples]

        def cpus(samples: list[Sample]) -> list[float]:
            return [c for _, c in samples]

        return cls(name, sdks, walls(sdk), walls(entry), cpus(sdk), cpus(entry), walls(first), cpus(first))

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


def compile_project() -> None:
    """Bytecode (`__pycache__`, as an import would write it) for every Coinswarm module and entry point."""
    for folder in PROJECT_SOURCES:
        if not compileall.compile_dir(folder, quiet=1):
            raise RuntimeError(f"could not compile the modules under {folder}")


def paired(sdks: tuple[str, ...], entry: str, cloud: str) -> tuple[Sample, Sample]:
    """One fresh interpreter, in the environment of `cloud`'s runtime (`RUNTIME_ENV`), imports the SDKs
    alone (timed), then the entry point (timed): the SDKs' import and the entry point's whole import
    (the SDKs' plus what the entry point adds to them). Both figures come from one interpreter at one
    moment, so the machine's load hits both alike: on a busy machine two interpreters' figures, even back
    to back, differ by more than Coinswarm's share."""
    code = (
        "import importlib, time\n"
        "wall, cpu = time.perf_counter(), time.process_time()\n"
        f"for name in {sdks!r}:\n"
        "    importlib.import_module(name)\n"
        "wall1, cpu1 = time.perf_counter(), time.process_time()\n"
        f"importlib.import_module({entry!r})\n"
        "wall2, cpu2 = time.perf_counter(), time.process_time()\n"
        "print((wall1 - wall) * 1e3, (cpu1 - cpu) * 1e3, (wall2 - wall) * 1e3, (cpu2 - cpu) * 1e3)\n"
    )
    env = {**os.environ, **RUNTIME_ENV[cloud]}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    sdk_wall, sdk_cpu, wall, cpu = (float(x) for x in done.stdout.split())
    return (sdk_wall, sdk_cpu), (wall, cpu)


def whole_import(entry: str, cloud: str | None) -> Sample:
    """One fresh interpreter imports the entry point alone, SDKs included, as its cloud's runtime loads a
    handler: in that runtime's environment (`RUNTIME_ENV[cloud]`: the collector rests while the entry
    point's package loads, SDKs and all), or, with `cloud` None, outside any (the collector running)."""
    code = (
        "import importlib, time\n"
        "wall, cpu = time.perf_counter(), time.process_time()\n"
        f"importlib.import_module({entry!r})\n"
        "print((time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3)\n"
    )
    from functions.cold_start import CLOUD_RUNTIME_ENV

    env = {k: v for k, v in os.environ.items() if k not in CLOUD_RUNTIME_ENV}
    env.update(RUNTIME_ENV[cloud] if cloud else {})
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    wall, cpu = (float(x) for x in done.stdout.split())
    return wall, cpu
