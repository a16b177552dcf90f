"""The committee's votes in one short line: `trend +1.00@0.90 mrev -- arb --` (signal@confidence, -- for
an abstention). The cycle line and the backtest's trade list both show them."""

from __future__ import annotations

from coinswarm.domain.models import Decision

SHORT = {"trend": "trend", "mean_reversion": "mrev", "arbitrage": "arb", "sma_cross": "sma"}


def votes_text(decision: Decision) -> str:
    parts = []
    for v in decision.votes:
        name = SHORT.get(v.agent, v.agent[:6])
        parts.append(f"{name} --" if v.confidence == 0 else f"{name} {v.signal:+.2f}@{v.confidence:.2f}")
    return " ".join(parts)
