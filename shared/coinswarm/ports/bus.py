"""The bus that carries messages between stages in mesh wiring.

On the wire a message is its JSON text, as it would be on SQS, Pub/Sub or an HTTP push: a handler
receives the body, parses it into its typed message, and returns what to publish next.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

Handler = Callable[[str], Sequence[tuple[str, Any]]]


class Bus(ABC):
    @abstractmethod
    def subscribe(self, topic: str, handler: Handler) -> None:
        """Deliver every message published on `topic` to `handler`; what it returns is published in turn."""

    @abstractmethod
    def publish(self, topic: str, message: Any) -> None:
        """Hand a message (a stage message, see coinswarm.stages.messages) on; delivery is at least once."""
