"""A backtest that keeps its episodes: every entry decision is kept (a bounded audit trail would
evict most of them in a long replay), and after the run each closed trade becomes an `Episode`,
recorded in the backtest's store like a live run's."""

from __future__ import annotations

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.backtest.engine import BacktestOptions, BacktestResult, run_backtest
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Action, Candle, Decision
from coinswarm.learning.episodes import Episode, build_episodes, entry_decisions


class _EntryKeepingStore(MemoryStore):
    """The backtest's in-memory store, which also keeps every decision that bought."""

    def __init__(self) -> None:
        super().__init__(max_decisions=100)
        self.buys: list[Decision] = []

    def record_decision(self, decision: Decision) -> None:
        if decision.action is Action.BUY:
            self.buys.append(decision)
        super().record_decision(decision)


def backtest_with_episodes(
    candles: list[Candle], settings: Settings, opts: BacktestOptions | None = None
) -> tuple[BacktestResult, list[Episode], MemoryStore]:
    store = _EntryKeepingStore()
    result = run_backtest(candles, settings, opts or BacktestOptions(), store=store)
    episodes = build_episodes(candles, result.fills, entry_decisions(store.buys))
    for e in episodes:
        store.record_episode(e.to_json())
    return result, episodes, store
