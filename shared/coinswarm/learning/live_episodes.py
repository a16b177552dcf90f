"""Episodes on the ledger side of a run (live, paper or a backtest): each trade a recorded sell
closes becomes an `Episode` in the history store.

Contract: `EpisodeKeeper.on_sells(symbol, stream, seq, sell_ts)` rebuilds the symbol's closed trades
from the newest ledger events (at most `LOOKBACK_EVENTS`), keeps those one of the sells closed, finds
the decision that placed each entry among the symbol's newest decisions, reads the candles from
before the entry to the exit from the state store (features, MAE and MFE), and records each episode
(`source` "ledger"). Recording is idempotent by episode id, so a redelivered fill records nothing
new. It never raises into the trade logging stage: an episode that cannot be built is skipped (the
fills are recorded already; the memory is a by-product).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from coinswarm.domain.models import FillRecorded, LedgerEvent
from coinswarm.learning.features import WARMUP
from coinswarm.ports.history import HistoryStore
from coinswarm.ports.state import StateStore

if TYPE_CHECKING:  # the episode builder is imported on the first sell: a cold start does not pay for it
    from coinswarm.learning.episodes import Episode

LOOKBACK_EVENTS = 500
DECISIONS = 500
MAX_CANDLES = 20_000


class EpisodeKeeper:
    def __init__(self, history: HistoryStore, state: StateStore, timeframe_s: int) -> None:
        self.history = history
        self.state = state
        self.timeframe_s = timeframe_s

    def on_sells(self, symbol: str, stream: str, seq: int, sell_ts: Sequence[int]) -> list[Episode]:
        """Sells of `symbol` at `sell_ts` were recorded, up to ledger event `seq` of `stream`: record
        each trade one of them closed."""
        try:
            events = self.history.read(stream, after_seq=max(0, seq - LOOKBACK_EVENTS))
            return self._closed(symbol, events, set(sell_ts))
        except NotImplementedError:
            return []  # this history store keeps no episodes
        except Exception:  # the memory must never fail the trade logging
            import logging

            logging.getLogger(__name__).exception("episode of %s not recorded", symbol)
            return []

    def _closed(self, symbol: str, events: Sequence[LedgerEvent], sell_ts: set[int]) -> list[Episode]:
        from coinswarm.learning.episodes import build_episodes, entry_decisions

        fills = [
            e.payload.fill for e in events if isinstance(e.payload, FillRecorded) and e.payload.fill.symbol == symbol
        ]
        if not fills:
            return []
        first_ts, last_ts = fills[0].ts, fills[-1].ts
        span = (last_ts - first_ts) // self.timeframe_s + WARMUP + 50
        candles = self.state.recent_candles(symbol, self.timeframe_s, min(span, MAX_CANDLES), until_ts=last_ts)
        decisions = entry_decisions(self.history.recent_decisions(DECISIONS, symbol))
        closed = [e for e in build_episodes(candles, fills, decisions, source="ledger") if e.exit_ts in sell_ts]
        for episode in closed:
            self.history.record_episode(episode.to_json())
        return closed
