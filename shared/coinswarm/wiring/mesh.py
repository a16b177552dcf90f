"""Mesh wiring, locally: each stage is its own function handler, messages travel over the bus as JSON."""

from __future__ import annotations

from collections.abc import Mapping

from coinswarm.adapters.inprocess_bus import InProcessBus, Tap
from coinswarm.ports.bus import Handler
from coinswarm.stages.messages import TICK, CycleTick


class LocalMesh:
    def __init__(self, handlers: Mapping[str, Handler], tap: Tap | None = None) -> None:
        self.bus = InProcessBus(tap=tap)
        for topic, handler in handlers.items():
            self.bus.subscribe(topic, handler)

    def run(self, tick: CycleTick) -> None:
        self.bus.publish(TICK, tick)
