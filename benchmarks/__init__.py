"""Coinswarm's benchmarks: `make bench` (= `python -m benchmarks`) runs them all and prints their figures.

- `backtest_throughput`: bars per second of `run_backtest` over 500,000 five-minute bars, for the
  sma-cross reference and for the configured committee (target: the committee at 60,000 bars/s or more);
- `peer_ratio`: the same sma-cross run against backtesting.py on the same bars (target: Coinswarm's
  time at most backtesting.py's);
- `cycle_latency`: p50 and p99 of one trading cycle over three symbols on the embedded SQLite store,
  fused and mesh wiring (target: fused p50 at most 5 ms).

`series` builds the data: the real five-minute files in ../shared/data/ohlcv stitched end to end, or a
synthetic series (said so in the output) when that folder is missing. Nothing here uses the network.
"""
