"""Arbitrage: the gap between our venue's price and another venue's, net of both venues' fees."""

from __future__ import annotations

from typing import Any

from coinswarm.domain.agents.base import EMPTY_VIEW, Agent, MarketView
from coinswarm.domain.models import AgentScore, Candle


class ArbitrageAgent(Agent):
    """Buy where we trade when it is cheaper than elsewhere by more than both fees (and `min_edge_bps`),
    sell when it is dearer. With one venue configured it abstains. Stateless."""

    name = "arbitrage"

    def __init__(self, min_edge_bps: float = 10.0, full_edge_bps: float = 60.0) -> None:
        if not 0 <= min_edge_bps < full_edge_bps:
            raise ValueError("arbitrage: need 0 <= min_edge_bps < full_edge_bps")
        self.min_edge_bps, self.full_edge_bps = min_edge_bps, full_edge_bps
        super().__init__()

    def reset(self) -> None:
        pass

    def to_state(self) -> dict[str, Any]:
        return {}

    def observe(self, candle: Candle, view: MarketView = EMPTY_VIEW) -> AgentScore:
        home = view.primary_venue
        others = [q for q in view.quotes if q.venue != home and q.symbol == candle.symbol] if view.quotes else None
        if not others:
            return self.abstain("one venue configured: no second price to compare")
        here = next((q.price for q in view.quotes if q.venue == home), candle.close)
        best_edge, best_venue, direction = 0.0, "", 0
        for q in others:
            fees = view.fee_bps.get(home, 0.0) + view.fee_bps.get(q.venue, 0.0)
            gap_bps = (q.price - here) / here * 1e4
            edge = abs(gap_bps) - fees
            if edge > best_edge:
                best_edge, best_venue, direction = edge, q.venue, 1 if gap_bps > 0 else -1
        if best_edge <= self.min_edge_bps:
            return self.abstain(f"no edge: venue spreads do not beat fees + {self.min_edge_bps:.0f} bps")
        strength = min(1.0, best_edge / self.full_edge_bps)
        cheaper = "cheaper" if direction > 0 else "dearer"
        return self.score(
            signal=direction * strength,
            confidence=strength,
            reason=f"{home} is {best_edge:.0f} bps {cheaper} than {best_venue} after fees",
        )


AGENT = ArbitrageAgent
