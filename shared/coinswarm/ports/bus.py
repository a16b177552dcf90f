"""The bus that carries messages between stages in mesh wiring."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from pydantic import BaseModel

Handler = Callable[[BaseModel], list[tuple[str, BaseModel]]]


class Bus(ABC):
    @abstractmethod
    def subscribe(self, topic: str, handler: Handler) -> None:
        """Deliver every message published on `topic` to `handler`; what it returns is published in turn."""

    @abstractmethod
    def publish(self, topic: str, message: BaseModel) -> None:
        """Hand a message on; delivery is at least once."""
