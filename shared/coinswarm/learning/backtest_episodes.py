"""A backtest that returns its episodes. The trade logging stage records them as in a live run
(coinswarm.learning.live_episodes); here every entry decision is also kept, since the backtest's
bounded audit trail would evict the entry of a long trade before it closes."""

from __future__ import annotations

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.backtest.engine import BacktestOptions, BacktestResult, run_backtest
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Action, Candle, Decision
from coinswarm.learning.episodes import Episode


class _EntryKeepingStore(MemoryStore):
    """The backtest's in-memory store, which also keeps every decision that bought."""

    def __init__(self) -> None:
        super().__init__(max_decisions=100)
        self.buys: list[Decision] = []

    def record_decision(self, decision: Decision) -> None:
        if decision.action is Action.BUY:
            self.buys.append(decision)
        super().record_decision(decision)

    def recent_decisions(self, limit: int, symbol: str | None = None) -> list[Decision]:
        newest = super().recent_decisions(limit, symbol)
        seen = {d.decision_id for d in newest}
        buys = [d for d in reversed(self.buys) if (symbol is None or d.symbol == symbol) and d.decision_id not in seen]
        return sorted([*newest, *buys], key=lambda d: d.ts, reverse=True)[:limit]


def backtest_with_episodes(
    candles: list[Candle], settings: Settings, opts: BacktestOptions | None = None
) -> tuple[BacktestResult, list[Episode], MemoryStore]:
    store = _EntryKeepingStore()
    result = run_backtest(candles, settings, opts or BacktestOptions(), store=store, keep_episodes=True)
    return result, [Episode.from_json(e) for e in store.episodes()], store
