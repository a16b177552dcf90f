"""Faults the fake exchange injects, each matched by method and path and used up after `times` requests.

kinds:
- `rate_limit`: 429 with `Retry-After: retry_after` (the request is not carried out);
- `ban`: 418 with `Retry-After` (Binance's ban);
- `server_error`: `status` (503) without carrying the request out; with `process=True`, carried out
  first (a 5xx whose outcome is a success, as Binance warns can happen);
- `delay`: carried out, answered only after `delay_s` (longer than the client's read timeout: the
  client times out on an order the venue accepted);
- `drop`: carried out, then the connection is closed without an answer;
- `partial`: the next matching order fills only `fraction` of its size;
- `stale`: market data answers `stale_s` seconds old, with the price of then;
- `duplicate`: a fill listing (Coinbase `/orders/historical/fills`, Binance `/api/v3/myTrades`) lists its
  first fill twice, same trade id;
- `misreport`: a fill listing misreports its first fill: `what` = "size" (times `factor`: more than was
  ordered), "fee" (negative) or "price" (times `factor`: far from the market).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["rate_limit", "ban", "server_error", "delay", "drop", "partial", "stale", "duplicate", "misreport"]


@dataclass
class Fault:
    kind: FaultKind
    path: str = ""  # a substring of the request path ("" matches every path); "...$": its end
    method: str | None = None
    times: int = 1
    retry_after: float = 1.0
    status: int = 503
    process: bool = False
    delay_s: float = 1.0
    fraction: float = 0.5
    stale_s: float = 600.0
    what: Literal["size", "fee", "price"] = "size"
    factor: float = 2.0

    def matches(self, method: str, path: str) -> bool:
        """`path` is a substring of the request's path; ending in `$`, its end (`/orders$`: not `/orders/preview`)."""
        where = path.endswith(self.path[:-1]) if self.path.endswith("$") else self.path in path
        return self.times > 0 and (self.method is None or self.method == method) and where


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Fault] = []
        self.fired: list[tuple[str, str, str]] = []  # (kind, method, path) of every fault applied

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._items.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def take(self, method: str, path: str, kinds: tuple[str, ...]) -> Fault | None:
        """The first pending fault of one of `kinds` for this request, used up by one."""
        with self._lock:
            for fault in self._items:
                if fault.kind in kinds and fault.matches(method, path):
                    fault.times -= 1
                    self.fired.append((fault.kind, method, path))
                    return fault
        return None

    def peek(self, method: str, path: str, kind: str) -> Fault | None:
        with self._lock:
            return next((f for f in self._items if f.kind == kind and f.matches(method, path)), None)


def tamper_fills(faults: Faults, method: str, path: str, rows: list[dict[str, Any]], keys: dict[str, str]) -> None:
    """Apply a `duplicate` or `misreport` fault to a fill listing's `rows` (in place). `keys` names the
    listing's size, fee and price fields (they differ between venues); values are decimal strings."""
    if not rows:
        return
    fault = faults.take(method, path, ("duplicate", "misreport"))
    if fault is None:
        return
    if fault.kind == "duplicate":
        rows.append(dict(rows[0]))
        return
    first = dict(rows[0])
    field = keys[fault.what]
    value = float(str(first[field]))
    first[field] = f"{-abs(value) or -0.01:.8f}" if fault.what == "fee" else f"{value * fault.factor:.8f}"
    rows[0] = first
