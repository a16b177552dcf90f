"""agent_scoring: run every agent over the new candles and score the newest."""
