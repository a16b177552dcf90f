"""SIGTERM, handled like Ctrl-C: what `systemctl stop`, `docker stop` and `kill` send asks `coinswarm run`
to stop, and it stops cleanly (the cycle under way finishes, the state file is let go, the summary is
printed) instead of dying where it stood.

A SIGTERM between two cycles (a live run waits for the next candle) stops the run at once. One that
arrives during a cycle lets that cycle finish, then stops; a second SIGTERM during the same cycle
abandons it, as Ctrl-C does (every claim and order is then dropped or taken over by the next run: see
stages.outbox).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any, Self

EXIT_CODE = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM


class Terminated(BaseException):
    """SIGTERM asked the run to stop now. A BaseException, like KeyboardInterrupt: `except Exception`
    does not swallow it, and the stages' `except BaseException` drop their claims on the way out."""


class SigtermStop:
    """Installs the SIGTERM handler while held (in the main thread; elsewhere signals cannot be handled
    and nothing is installed)."""

    def __init__(self) -> None:
        self.requested = False
        self._in_cycle = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
            self._installed = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)
            self._installed = False

    @contextmanager
    def cycle(self) -> Iterator[None]:
        """Around one cycle: a SIGTERM in here lets it finish (see `requested`)."""
        self._in_cycle = True
        try:
            yield
        finally:
            self._in_cycle = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._in_cycle and not self.requested:
            self.requested = True  # the loop stops after this cycle
            return
        self.requested = True
        raise Terminated
