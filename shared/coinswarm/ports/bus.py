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


class BusError(Exception):
    """A message could not be handed on."""


class TransientBusError(BusError):
    """The next hop was unreachable, too slow, overloaded or failing, through every retry: the message
    may be sent again later (every consumer is idempotent), as a queue would redeliver it."""


class PermanentBusError(BusError):
    """The next hop refused the message for a reason that a retry would not change (bad credentials,
    a malformed body, a topic it does not consume, a missing configuration): fix the cause first."""
