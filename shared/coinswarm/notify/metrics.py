"""Metrics as log lines: CloudWatch's embedded metric format (EMF), which Google's log-based metrics
read too, so that neither cloud needs a metrics API call (or its SDK) on a function's path.

One JSON line per emission on stdout:

    {"_aws": {"Timestamp": 1733500000000, "CloudWatchMetrics": [{"Namespace": "Coinswarm",
      "Dimensions": [[]], "Metrics": [{"Name": "Fills", "Unit": "Count"}]}]}, "Fills": 1,
     "coinswarm_metric": true}

CloudWatch turns each name of METRICS into a custom metric without dimensions (one metric each: the
free tier allows ten, METRICS has eight); Terraform's `google_logging_metric`s filter on
`jsonPayload.coinswarm_metric` and extract each value. The set of names is closed: `emit` refuses any
other, so the count `coinswarm budget` makes is the count the clouds bill."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

NAMESPACE = "Coinswarm"
METRICS: dict[str, str] = {
    "Cycles": "Count",
    "Orders": "Count",
    "Fills": "Count",
    "Refusals": "Count",
    "Errors": "Count",
    "CycleLatency": "Seconds",
    "DataLag": "Seconds",
    "NotifyFailures": "Count",
}
"""Every metric name and its unit: the custom metrics a deployment creates (at most 10: the free tier)."""
MARKER = "coinswarm_metric"


def line(values: dict[str, float], *, ts_ms: int) -> str:
    unknown = sorted(set(values) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}: add them to METRICS (and count them in the budget)")
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": ts_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[]],
                    "Metrics": [{"Name": name, "Unit": METRICS[name]} for name in sorted(values)],
                }
            ],
        },
        **{name: float(v) for name, v in sorted(values.items())},
        MARKER: True,
    }
    return json.dumps(doc, separators=(",", ":"))


class MetricsLog:
    """Writes EMF lines to `out` (stdout: what Lambda and Cloud Functions collect). Never raises."""

    def __init__(self, now_ms: Callable[[], int], out: TextIO | None = None, *, enabled: bool = True) -> None:
        self._now_ms = now_ms
        self._out = out
        self.enabled = enabled

    def emit(self, **values: float) -> None:
        if not values or not self.enabled:
            return
        text = line(values, ts_ms=self._now_ms())
        try:
            out = self._out if self._out is not None else sys.stdout
            out.write(text + "\n")
            out.flush()
        except (OSError, ValueError):
            pass  # a closed stdout must not fail a stage
