"""The ledger stage: append fills to the ledger and bring the positions and P&L projection up to date."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from coinswarm.domain.models import Side
from coinswarm.stages.ledger import Ledger
from coinswarm.stages.messages import LOGGED, Message, PlacementDone, TradesLogged, worth_logging


class ClosedTrades(Protocol):
    """Told of the sells recorded (coinswarm.learning.live_episodes keeps an episode per closed trade)."""

    def on_sells(self, symbol: str, stream: str, seq: int, sell_ts: Sequence[int]) -> object: ...


class LedgerStage:
    def __init__(self, ledger: Ledger, episodes: ClosedTrades | None = None) -> None:
        self.ledger = ledger
        self.episodes = episodes

    def handle(self, msg: PlacementDone) -> list[tuple[str, Message]]:
        if not worth_logging(msg):
            return []
        appended = sum(1 for fill in msg.fills if self.ledger.record_fill(fill))
        portfolio = self.ledger.project()
        if self.episodes is not None and appended:  # the sells, only for whom is told of them
            sells = [f.ts for f in msg.fills if f.side is Side.SELL]
            if sells:
                self.episodes.on_sells(msg.symbol, self.ledger.stream, portfolio.seq, sells)
        return [
            (
                LOGGED,
                TradesLogged(
                    cycle_id=msg.cycle_id,
                    symbol=msg.symbol,
                    appended=appended,
                    duplicates=len(msg.fills) - appended,
                    seq=portfolio.seq,
                ),
            )
        ]
