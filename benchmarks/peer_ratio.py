"""Coinswarm against backtesting.py: the same sma-cross on the same bars, timed side by side in one
process, and the ratio of the two times (target: Coinswarm's at most backtesting.py's).

The peer runs `SmaCross` below (backtesting.py's own example, bought only when flat) with the same
rules: signal at the close, fill at the next open, the same commission, no spread, `finalize_trades=True`.
Its timed part is `bt.run()` alone; building its DataFrame from the candles and constructing the
`Backtest` (its "data preparation") is timed and shown apart, and a second ratio includes it. The
Coinswarm side is the `run_backtest` call alone (see backtest_throughput); CSV loading is reported
there, separately.

The two runs are not expected to agree to the cent here (tests/functional/test_parity_backtesting_py.py
is the exact comparison): backtesting.py sells a position still open at the end at the last bar's open,
Coinswarm at its close; on real tick-sized prices the fast and slow SMA are sometimes exactly equal, and
the two engines' float rounding can break such a tie differently (a cross one side sees and the other
does not: a round trip more or less); Coinswarm's sma-cross adds to a position when an up-cross comes
while it is still holding (after such a tie hid the down-cross), where backtesting.py's buy has no cash
left to spend; and the buy size differs unless Coinswarm's FULL_EQUITY is backtesting.py 0.6's default
(`1 - sys.float_info.epsilon` of the cash).

Whole units: with the run's starting cash of 1e9 at the stitched series' prices (about 5e-5 BTC) the
peer's whole units are a tiny fraction of the position, so plain `Backtest` trades effectively fractional
sizes; when the cash buys fewer than a million units at the highest price (dearer prices, as in the
synthetic series) it runs as `FractionalBacktest` with a unit of 1e-8 instead.
"""

from __future__ import annotations

import gc
import time
import warnings
from dataclasses import dataclass
from typing import Any

from .backtest_throughput import Run

FRACTIONAL_UNIT = 1e-8
FINE_ENOUGH_UNITS = 1e6  # whole units are fine enough when the cash buys at least this many
TARGET_RATIO = 1.0


@dataclass(frozen=True)
class PeerRun:
    engine: str
    prep_s: float
    run_s: float
    trades: int
    final_equity: float
    run_cpu_s: float = 0.0  # this process's CPU time over bt.run() (steadier on a shared machine)


def _strategy() -> type:
    from backtesting import Strategy
    from backtesting.lib import crossover

    def sma(values: Any, n: int) -> Any:
        import pandas as pd

        return pd.Series(values).rolling(n).mean().to_numpy()

    class SmaCross(Strategy):
        fast = 10
        slow = 20

        def init(self) -> None:
            self.sma_fast = self.I(sma, self.data.Close, self.fast)
            self.sma_slow = self.I(sma, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.sma_fast, self.sma_slow):
                if not self.position:
                    self.buy()
            elif crossover(self.sma_slow, self.sma_fast):
                self.position.close()

    return SmaCross


def run_peer(candles: list[Any], *, fast: int, slow: int, fee_bps: float, cash: float) -> PeerRun:
    import numpy as np
    import pandas as pd
    from backtesting import Backtest
    from backtesting.lib import FractionalBacktest

    strategy = _strategy()
    started = time.perf_counter()
    n = len(candles)
    cols = {k: np.empty(n) for k in ("Open", "High", "Low", "Close", "Volume")}
    stamps = np.empty(n, dtype=np.int64)
    for i, c in enumerate(candles):
        stamps[i] = c.ts
        cols["Open"][i] = c.open
        cols["High"][i] = c.high
        cols["Low"][i] = c.low
        cols["Close"][i] = c.close
        cols["Volume"][i] = c.volume
    frame = pd.DataFrame(cols, index=pd.to_datetime(stamps, unit="s"))
    whole = cash / float(cols["High"].max()) >= FINE_ENOUGH_UNITS
    kwargs: dict[str, Any] = {
        "cash": cash,
        "commission": fee_bps / 1e4,  # backtesting.py: a fraction; Coinswarm: basis points
        "spread": 0.0,
        "trade_on_close": False,
        "exclusive_orders": False,
        "finalize_trades": True,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if whole:
            bt = Backtest(frame, strategy, **kwargs)
            engine = "Backtest (whole units)"
        else:
            bt = FractionalBacktest(frame, strategy, fractional_unit=FRACTIONAL_UNIT, **kwargs)
            engine = f"FractionalBacktest (unit {FRACTIONAL_UNIT:g})"
        prep_s = time.perf_counter() - started
        gc.collect()
        started, cpu_started = time.perf_counter(), time.process_time()
        stats = bt.run(fast=fast, slow=slow)
        gc.collect()  # each engine pays for the garbage it leaves (see backtest_throughput.run_strategy)
        run_s, run_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    return PeerRun(engine, prep_s, run_s, int(stats["# Trades"]), float(stats["Equity Final [$]"]), run_cpu_s)


def report(ours: Run, peer: PeerRun | None, why_not: str = "") -> bool:
    print("== coinswarm vs backtesting.py (the same sma-cross 10/20 run, the same bars) " + "=" * 23)
    if peer is None:
        print(f"skipped    {why_not}")
        return True
    import backtesting

    ratio = ours.seconds / peer.run_s
    with_prep = ours.seconds / (peer.run_s + peer.prep_s)
    diff = ours.final_equity / peer.final_equity - 1.0
    print(f"bars       {ours.bars:,}")
    print(
        f"coinswarm  run_backtest {ours.seconds:8.2f} s  {ours.bars_per_s:>10,.0f} bars/s   "
        f"trades {ours.trades:,}, final equity {ours.final_equity:,.2f}"
    )
    print(
        f"peer       bt.run()     {peer.run_s:8.2f} s  {ours.bars / peer.run_s:>10,.0f} bars/s   "
        f"trades {peer.trades:,}, final equity {peer.final_equity:,.2f}"
    )
    print(
        f"           backtesting.py {backtesting.__version__}, {peer.engine}; data preparation "
        f"(DataFrame + Backtest) {peer.prep_s:.2f} s, not in bt.run()"
    )
    print(
        f"agreement  trades {ours.trades:,} vs {peer.trades:,}; final equity differs by {diff:+.2e} "
        "(small differences are expected: see this module's docstring)"
    )
    print(f"ratio      coinswarm / bt.run() = {ratio:.2f}   (including the peer's data preparation: {with_prep:.2f})")
    if ours.cpu_seconds > 0 and peer.run_cpu_s > 0:
        # On a machine other work shares, the wall clocks of two runs differ by more than the engines do:
        # the verdict is taken on CPU time, as the other backtest benchmarks take theirs.
        ratio = ours.cpu_seconds / peer.run_cpu_s
        print(f"cpu        coinswarm {ours.cpu_seconds:.2f} s, bt.run() {peer.run_cpu_s:.2f} s: ratio {ratio:.2f}")
    met = ratio <= TARGET_RATIO
    print(f"target     ratio <= {TARGET_RATIO:.1f}: {ratio:.2f} -> {'PASS' if met else 'MISS'}")
    return met
