"""Runs trading cycles with either wiring and tells an observer what each stage handed on."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Literal

from coinswarm.errors import CoinswarmError
from coinswarm.ports.bus import Handler
from coinswarm.stages.messages import CycleTick, Message
from coinswarm.wiring.bootstrap import App
from coinswarm.wiring.fused import run_fused
from coinswarm.wiring.mesh import LocalMesh

Tap = Callable[[str, Message], None]
LEASE = "runner"
RUNNER_LEASE_S = 900  # how long a runner's lease outlives its last cycle (only a crash lets it run out)


class StateInUseError(CoinswarmError, RuntimeError):
    """Another runner holds the state's lease: this one must not run cycles on it."""

    exit_code = 3


class CycleRunner:
    def __init__(
        self,
        app: App,
        *,
        wiring: Literal["fused", "mesh"],
        handlers: Mapping[str, Handler] | None = None,
        tap: Tap | None = None,
        owner: str = "coinswarm-run",
        lease_s: int | None = RUNNER_LEASE_S,
    ) -> None:
        """`lease_s`: how long the runner lease in the coordination store lasts, renewed every cycle: one
        runner per store. None: no lease, where something that ends with the process already makes this
        runner the only one (`coinswarm run` on a local state file holds an operating-system lock on it,
        which a crash cannot leave behind; see coinswarm.cli.state_lock)."""
        if wiring == "mesh" and handlers is None:
            raise ValueError("mesh wiring needs the functions' local handlers")
        self.app = app
        self.wiring = wiring
        self.tap = tap
        self.routes = app.stages.routes()
        self.mesh = LocalMesh(handlers, tap) if wiring == "mesh" and handlers is not None else None
        self.owner = owner
        self.lease_s = lease_s
        self.cycles = 0

    def run_cycle(self, ts: int) -> None:
        """One cycle for every configured symbol, as of `ts` (the close of the newest candle wanted)."""
        self._hold_lease()
        tick = CycleTick(cycle_id=f"cycle-{ts}", ts=ts, symbols=self.app.settings.symbols)
        if self.mesh is not None:
            self.mesh.run(tick)
        else:
            run_fused(self.routes, tick, self.tap)
        self.cycles += 1

    def release(self) -> None:
        if self.lease_s is not None:
            self.app.coordination.release_lease(LEASE, self.owner)

    def _hold_lease(self) -> None:
        """One runner per coordination store: a second one on the same store is refused."""
        if self.lease_s is None:
            return
        now = int(time.time())
        if not self.app.coordination.acquire_lease(LEASE, self.owner, now=now, ttl_s=self.lease_s):
            raise StateInUseError(
                "another `coinswarm run` is trading on this state file; stop it first, or give this run "
                "its own file with --state PATH"
            )
