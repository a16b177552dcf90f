"""trade_logging: append fills to the ledger, update positions and P&L."""
