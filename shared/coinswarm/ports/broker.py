"""Where orders go: the paper broker by default, a live venue only when deliberately configured."""

from __future__ import annotations

from abc import ABC, abstractmethod

from coinswarm.domain.models import Fill, Order


class Broker(ABC):
    name: str = ""

    @abstractmethod
    def submit(self, order: Order) -> Order:
        """Place `order`. Idempotent on `client_order_id`: a repeat returns the order already held."""

    @abstractmethod
    def settle(self, symbol: str, observed_price: float, ts: int) -> list[Fill]:
        """Fills that happened since the last call, given the first price observed at `ts`."""

    @abstractmethod
    def get_order(self, client_order_id: str) -> Order | None:
        """The order placed under this client order id, if any."""
