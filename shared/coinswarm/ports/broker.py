"""Where orders go: the paper broker by default, a live venue only when deliberately configured."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from coinswarm.domain.models import Fill, Order
from coinswarm.domain.risk import AccountView


@dataclass(frozen=True, slots=True)
class Settlement:
    """What happened to pending orders: fills, and orders the venue refused (each with its note)."""

    fills: list[Fill] = field(default_factory=list)
    refused: list[Order] = field(default_factory=list)
    pending: bool = False  # orders for the symbol still waiting after this settlement


class Broker(ABC):
    name: str = ""
    applies_exit_rules: bool = False
    """True for a broker that applies the [exits] rules itself (the backtest's, backtest.exits): order
    placement then leaves them to it rather than checking every candle a second time."""

    @abstractmethod
    def submit(self, order: Order) -> Order:
        """Place `order`. Idempotent on `client_order_id`: a repeat returns the order already held."""

    @abstractmethod
    def settle(self, symbol: str, observed_price: float, ts: int) -> Settlement:
        """What happened to `symbol`'s pending orders since the last call, given the price observed at `ts`."""

    @abstractmethod
    def has_pending(self, symbol: str) -> bool:
        """Whether any order for `symbol` is waiting to fill."""

    @abstractmethod
    def account(self) -> AccountView:
        """Cash, holdings and the last price observed for each symbol, as the venue has them."""

    @abstractmethod
    def get_order(self, client_order_id: str) -> Order | None:
        """The order placed under this client order id, if any."""

    def quiet_run(self, symbol: str, steps: Sequence[Any], start: int, end: int | None = None) -> int:
        """How far settling `symbol` at the decision points `steps[start:end]` (stages.messages.DecidedStep)
        would only watch its position: the index of the first point that may do more. A broker that cannot
        tell, as every venue, answers `start`: each point is then settled in turn. The backtest's broker
        knows (backtest.exits.ExitingBroker)."""
        return start

    def watched(self, symbol: str, steps: Sequence[Any], start: int, end: int) -> None:
        """Settle the points `steps[start:end]` that `quiet_run` found quiet. Only a broker whose
        `quiet_run` finds any is asked."""
        raise NotImplementedError(f"{type(self).__name__} finds no quiet run of points, so it settles none")
