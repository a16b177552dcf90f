"""The in-process bus: first in, first out, in this process. Messages still cross as JSON text, so
whatever runs here also survives a real queue. `tap` sees every message (for reports and tests)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from coinswarm.ports.bus import Bus, Handler
from coinswarm.stages.messages import Message, encode

Tap = Callable[[str, Message], None]


class InProcessBus(Bus):
    def __init__(self, tap: Tap | None = None) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._queue: deque[tuple[str, str]] = deque()
        self._draining = False
        self.tap = tap
        self.delivered = 0

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def publish(self, topic: str, message: Message) -> None:
        if self.tap is not None:
            self.tap(topic, message)
        self._queue.append((topic, encode(message)))
        if not self._draining:
            self._drain()

    def _drain(self) -> None:
        self._draining = True
        try:
            while self._queue:
                topic, body = self._queue.popleft()
                for handler in self._handlers.get(topic, ()):
                    self.delivered += 1
                    for next_topic, message in handler(body):
                        self.publish(next_topic, message)
        finally:
            self._draining = False
