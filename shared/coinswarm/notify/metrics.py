"""Metrics as log lines: CloudWatch's embedded metric format (EMF), which Google's log-based metrics
read too, so that neither cloud needs a metrics API call (or its SDK) on a function's path.

One JSON line per emission on stdout:

    {"_aws": {"Timestamp": 1733500000000, "CloudWatchMetrics": [{"Namespace": "Coinswarm",
      "Dimensions": [[]], "Metrics": [{"Name": "Fills", "Unit": "Count"}]}]}, "Fills": 1, "Orders": 1,
     "coinswarm_metric": true}

CloudWatch turns each name of METRICS declared in the line into a custom metric without dimensions:
five, half the ten the free tier allows (`coinswarm budget` keeps every quota within half). FIELDS
travel in the same line undeclared: CloudWatch keeps them as the log event's properties (Logs Insights
charts them, `stats sum(Orders) by bin(1h)`), and Google's log-based metrics (Terraform's
`google_logging_metric`s, filtering on `jsonPayload.coinswarm_metric`) extract every name of both. The
set of names is closed: `emit` refuses any other, so the count the budget makes is the count billed."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

NAMESPACE = "Coinswarm"
METRICS: dict[str, str] = {
    "Cycles": "Count",  # the heartbeat alarm watches it
    "Fills": "Count",
    "Errors": "Count",
    "CycleLatency": "Seconds",
    "DataLag": "Seconds",
}
"""The CloudWatch custom metrics a deployment creates, and their units."""
FIELDS: tuple[str, ...] = ("Orders", "Refusals", "NotifyFailures")
"""Values logged beside them, not declared to CloudWatch (no custom metric); Google's log-based metrics read them."""
MARKER = "coinswarm_metric"


def line(values: dict[str, float], *, ts_ms: int) -> str:
    unknown = sorted(set(values) - set(METRICS) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}: add them to METRICS or FIELDS (the budget counts them)")
    declared = sorted(name for name in values if name in METRICS)
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": ts_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[]],
                    "Metrics": [{"Name": name, "Unit": METRICS[name]} for name in declared],
                }
            ],
        },
        **{name: float(v) for name, v in sorted(values.items())},
        MARKER: True,
        # as every log line of ours: Google reads the severity, and a reader of the logs the message
        "severity": "INFO",
        "message": "metrics: " + ", ".join(f"{name} {float(v):g}" for name, v in sorted(values.items())),
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
