"""tick_ingest: on a schedule, fetch and store the newest closed candles; one message per symbol."""
