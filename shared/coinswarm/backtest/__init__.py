"""Backtests: replay a candle history through the same stage code that trades, on a simulated clock."""
