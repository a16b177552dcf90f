"""Pausing Python's cyclic garbage collector around work that builds or walks hundreds of thousands of
long-lived objects (loading a candle file, replaying a backtest): otherwise its collections walk them
all again and again. Objects are still freed by reference counting while it is paused; it only stops
looking for reference cycles, and resumes on exit."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
