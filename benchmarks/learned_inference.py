"""The learned agent's cost per candle: `LearnedAgent.observe` (the incremental features and a walk
down every tree of the exported forest, in pure Python) timed candle by candle on a real file, with a
model of the default size trained on the file's first 60 % by `coinswarm.learning.training` (the
`learn` extra; the agent itself needs none of it). Also: the model file's size, the time to read it
(what an agent_scoring cold start adds on its first call), and the import of the agent module in a
fresh interpreter beyond a built-in agent's (the same domain modules), beside scikit-learn's, which a
function never imports. Each candle's figure is its fastest of PASSES passes (fresh agents each
pass): on a shared machine a pass's p99 is the scheduler's; the raw p99 of one pass is shown too.

Target: p99 <= 1 ms per candle. Run it alone with `python -m benchmarks.learned_inference`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TARGET_P99_MS = 1.0
PASSES = 5  # each candle's cost is its fastest of 5 passes: a busy machine's preemptions are not the agent's
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ohlcv" / "ETH_BTC-5m.csv.gz"


@dataclass
class Inference:
    candles: int
    trees: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    raw_p99_ms: float
    model_kib: float
    load_ms: float
    import_agent_ms: float
    import_sklearn_ms: float


def measure() -> Inference:
    from coinswarm.domain.agents.learned import LearnedAgent
    from coinswarm.learning.training import fit_artifact, samples
    from coinswarm.marketdata.candle_files import load_candles

    candles = load_candles(DATA).candles
    cut = int(len(candles) * 0.6)
    artifact = fit_artifact(samples(candles[:cut], 12, 60.0), timeframe_s=300, horizon=12, fee_bps=60.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = artifact.write(Path(tmp) / "learned.json")
        started = time.perf_counter()
        agent = LearnedAgent(model=str(path), max_age_days=3650.0)
        load_ms = (time.perf_counter() - started) * 1e3
        test = candles[cut:]
        passes: list[list[float]] = []
        voted = 0
        for _ in range(PASSES):
            agent = LearnedAgent(model=str(path), max_age_days=3650.0)
            times: list[float] = []
            for c in test:
                t0 = time.perf_counter_ns()
                score = agent.observe(c)
                times.append((time.perf_counter_ns() - t0) / 1e6)
                voted += score.confidence > 0
            passes.append(times)
        size = path.stat().st_size / 1024
    if voted == 0:
        raise RuntimeError("the agent never voted: the benchmark timed abstentions only")
    best = sorted(min(p[i] for p in passes) for i in range(len(test)))
    first = sorted(passes[0])
    return Inference(
        candles=len(best),
        trees=len(artifact.forest["trees"]),
        p50_ms=statistics.median(best),
        p99_ms=best[int(0.99 * (len(best) - 1))],
        max_ms=best[-1],
        raw_p99_ms=first[int(0.99 * (len(first) - 1))],
        model_kib=size,
        load_ms=load_ms,
        import_agent_ms=_import_ms("coinswarm.domain.agents.learned", after="coinswarm.domain.agents.trend"),
        import_sklearn_ms=_import_ms("sklearn.ensemble"),
    )


def _import_ms(module: str, *, after: str = "", runs: int = 5) -> float:
    """The median import time of `module` in fresh interpreters, each with `after` imported first."""
    first = f"import {after}; " if after else ""
    code = f"{first}import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1e3)"
    out = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(out)


def report(m: Inference) -> bool:
    ok = m.p99_ms <= TARGET_P99_MS
    print(f"== learned agent inference: {m.candles} candles, a forest of {m.trees} trees (pure Python)")
    print(
        f"   per candle (features + forest), fastest of {PASSES} passes: p50 {m.p50_ms:.3f} ms, "
        f"p99 {m.p99_ms:.3f} ms, max {m.max_ms:.3f} ms (one pass as it came: p99 {m.raw_p99_ms:.3f} ms)"
    )
    print(f"   model file {m.model_kib:.0f} KiB, read and checked in {m.load_ms:.1f} ms (once per process)")
    print(
        f"   import coinswarm.domain.agents.learned after a built-in agent: {m.import_agent_ms:.1f} ms; "
        f"sklearn.ensemble {m.import_sklearn_ms:.0f} ms (never imported by a function)"
    )
    print(f"   target p99 <= {TARGET_P99_MS:g} ms: {'PASS' if ok else 'MISS'}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if report(measure()) else 1)
