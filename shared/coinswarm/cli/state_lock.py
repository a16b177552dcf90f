"""The right to run on a local state file: an operating-system lock (`fcntl.flock`) on `PATH.lock`, the
file beside the state file.

The kernel drops the lock when its process ends, however it ends (Ctrl-C, SIGTERM, kill -9, a power
cut), so a run started after a crash starts at once; while a run lives, another is refused, and told the
holder's process id. Nothing else about the state file changes: `status`, `ledger verify` and the kill
switch read and write it while a run holds it (SQLite serialises them).

The lock file is never deleted: a lock file deleted while held would let a second run create and lock a
new file of the same name, and two runs would each hold "the" lock. It holds the holder's process id, for
the refusal's message (emptied when the holder lets go; a killed holder's id stays, but the lock does not).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from coinswarm.errors import CoinswarmError


class StateFileBusyError(CoinswarmError):
    """Another live process holds the state file."""

    exit_code = 3

    def __init__(self, state: Path, pid: int | None) -> None:
        self.state = state
        self.pid = pid
        who = f"process {pid}" if pid is not None else "another process (its id is not written yet)"
        stop = f"stop it first (kill {pid})" if pid is not None else "stop it first"
        super().__init__(
            f"another `coinswarm run` ({who}) is trading on {state}; {stop}, or give this run its own file "
            "with --state PATH"
        )


def lock_path(state: str | Path) -> Path:
    return Path(f"{state}.lock")


class StateFileLock:
    """Held from `acquire()` until `release()` or the end of the process."""

    def __init__(self, state: str | Path) -> None:
        self.state = Path(state)
        self.path = lock_path(state)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> Self:
        """Take the lock now, or raise `StateFileBusyError` naming the holder: never waits."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(fd)
            os.close(fd)
            raise StateFileBusyError(self.state, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # before letting go: a later refusal must not name a process that let go
        os.close(fd)  # closing the last descriptor of the open file drops the lock

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def is_held(state: str | Path) -> bool:
    """Whether a live process holds `state` now."""
    try:
        fd = os.open(lock_path(state), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock, when it was taken
    return False


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
