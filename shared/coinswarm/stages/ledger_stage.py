"""The ledger stage: append fills to the ledger and bring the positions and P&L projection up to date."""

from __future__ import annotations

from coinswarm.stages.ledger import Ledger
from coinswarm.stages.messages import LOGGED, Message, PlacementDone, TradesLogged, worth_logging


class LedgerStage:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def handle(self, msg: PlacementDone) -> list[tuple[str, Message]]:
        if not worth_logging(msg):
            return []
        appended = sum(1 for fill in msg.fills if self.ledger.record_fill(fill))
        portfolio = self.ledger.project()
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
