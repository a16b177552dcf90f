"""Episodes in the history stores that keep them (SQLite, memory, Cosmos DB): recorded once by id,
read back whole, by symbol and exit time, oldest exit first, and the newest N."""

from __future__ import annotations

import pytest

from coinswarm.ports.history import HistoryStore


def episode(symbol: str, exit_ts: int, **extra: object) -> dict:
    return {
        "episode_id": f"{symbol}-{exit_ts - 600}",
        "symbol": symbol,
        "entry_ts": exit_ts - 600,
        "exit_ts": exit_ts,
        "net_return": -0.0123,
        "exit_reason": "signal",
        "votes": [{"agent": "trend", "signal": 0.5, "confidence": 0.4, "weight": 1.0, "reason": "up"}],
        "indicators": {"ret_1": 0.001, "rsi_14": -0.1},
        **extra,
    }


@pytest.mark.adapters("sqlite", "memory", "cosmos")
def test_episodes_are_kept_whole_and_read_by_symbol_and_time(store: HistoryStore) -> None:
    for symbol, ts in (("ETH-BTC", 3_000), ("LTC-BTC", 2_000), ("ETH-BTC", 1_000), ("ETH-BTC", 5_000)):
        store.record_episode(episode(symbol, ts))
    everything = store.episodes()
    assert [e["exit_ts"] for e in everything] == [1_000, 2_000, 3_000, 5_000]
    assert everything[0] == episode("ETH-BTC", 1_000)
    assert [e["exit_ts"] for e in store.episodes(symbol="ETH-BTC")] == [1_000, 3_000, 5_000]
    assert [e["exit_ts"] for e in store.episodes(since_ts=2_500)] == [3_000, 5_000]
    assert [e["exit_ts"] for e in store.episodes(symbol="ETH-BTC", limit=2)] == [3_000, 5_000]


@pytest.mark.adapters("sqlite", "memory", "cosmos")
def test_the_same_episode_twice_keeps_the_first(store: HistoryStore) -> None:
    store.record_episode(episode("ETH-BTC", 1_000))
    store.record_episode(episode("ETH-BTC", 1_000, net_return=9.9))
    (kept,) = store.episodes()
    assert kept["net_return"] == -0.0123


@pytest.mark.adapters("sqlite", "memory", "cosmos")
def test_an_episode_without_its_keys_is_refused(store: HistoryStore) -> None:
    with pytest.raises(ValueError, match="exit_ts"):
        store.record_episode({"episode_id": "x", "symbol": "ETH-BTC", "exit_ts": "yesterday"})
    assert store.episodes() == []
