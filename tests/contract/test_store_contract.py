"""The storage contract: every adapter of StateStore, HistoryStore and CoordinationStore passes it.

Each test runs once per adapter in conftest.ADAPTERS. Time is injected (the `clock` fixture for
document TTLs, explicit `now` arguments for idempotency and leases), so nothing here sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.domain.models import (
    AccountOpened,
    Action,
    Candle,
    Decision,
    Fill,
    FillRecorded,
    LedgerEvent,
    RiskRejection,
    Side,
    Vote,
)
from coinswarm.errors import ConflictError, SequenceConflictError
from coinswarm.ports.coordination import CoordinationStore, IdempotencyStatus
from coinswarm.ports.history import HistoryStore
from coinswarm.ports.state import StateStore

NOW = 1_700_000_000

# -- builders ------------------------------------------------------------------------------------


def candle(ts: int, close: float = 100.0, *, symbol: str = "BTC-USD", timeframe_s: int = 60) -> Candle:
    return Candle(
        symbol=symbol,
        ts=ts,
        open=close,
        high=close + 1.5,
        low=close - 1.25,
        close=close,
        volume=3.75,
        timeframe_s=timeframe_s,
    )


def event(seq: int, *, stream: str = "paper", event_id: str | None = None) -> LedgerEvent:
    payload: AccountOpened | FillRecorded
    if seq == 1:
        payload = AccountOpened(cash=10_000.0, ts=NOW)
    else:
        fill = Fill(
            fill_id=f"f{seq}",
            client_order_id=f"o{seq}",
            symbol="BTC-USD",
            side=Side.BUY,
            quantity=0.125,
            price=42_000.5,
            fee=1.05,
            ts=NOW + seq,
        )
        payload = FillRecorded(fill=fill)
    return LedgerEvent(stream=stream, seq=seq, event_id=event_id or f"{stream}-{seq}", payload=payload)


def decision(decision_id: str, ts: int, symbol: str = "BTC-USD", reason: str = "trend up") -> Decision:
    vote = Vote(agent="trend", signal=0.5, confidence=0.8, weight=1.0, reason="ema cross")
    return Decision(
        decision_id=decision_id,
        cycle_id=f"c{ts}",
        symbol=symbol,
        ts=ts,
        action=Action.BUY,
        signal=0.5,
        confidence=0.8,
        votes=(vote, vote.model_copy(update={"agent": "momentum", "signal": -0.25})),
        reason=reason,
        market_state="trending",
    )


def rejection(intent_id: str, ts: int, reason: str = "daily loss limit") -> RiskRejection:
    return RiskRejection(intent_id=intent_id, symbol="BTC-USD", side=Side.BUY, reason=reason, ts=ts, decision_id="d1")


DOC: dict[str, Any] = {
    "cash": 10_000.25,
    "positions": {"BTC-USD": {"qty": 0.5, "avg": 41_000.0}},
    "flags": [True, False, None],
    "name": "pâper ₿",
    "n": 3,
}

# -- StateStore: documents -----------------------------------------------------------------------


def test_get_of_a_missing_key_is_none(store: StateStore) -> None:
    assert store.get("nope") is None


def test_put_then_get_round_trips_the_value_with_version_1(store: StateStore) -> None:
    assert store.put("book", DOC) == 1
    got = store.get("book")
    assert got is not None
    assert got.value == DOC
    assert got.version == 1


def test_every_put_raises_the_version_by_one(store: StateStore) -> None:
    assert [store.put("k", {"i": i}) for i in range(4)] == [1, 2, 3, 4]
    got = store.get("k")
    assert got is not None
    assert (got.value, got.version) == ({"i": 3}, 4)


def test_keys_are_independent(store: StateStore) -> None:
    store.put("a", {"v": 1})
    store.put("a", {"v": 2})
    assert store.put("b", {"v": 3}) == 1
    got = store.get("a")
    assert got is not None
    assert got.value == {"v": 2}


def test_delete_removes_the_key_and_a_later_put_starts_again_at_1(store: StateStore) -> None:
    store.put("k", {"v": 1})
    store.put("k", {"v": 2})
    store.delete("k")
    assert store.get("k") is None
    assert store.put("k", {"v": 3}, expected_version=0) == 1


def test_delete_of_a_missing_key_is_not_an_error(store: StateStore) -> None:
    store.delete("never-written")


def test_expected_version_0_writes_only_a_new_key(store: StateStore) -> None:
    assert store.put("k", {"v": 1}, expected_version=0) == 1
    with pytest.raises(ConflictError):
        store.put("k", {"v": 2}, expected_version=0)
    got = store.get("k")
    assert got is not None
    assert (got.value, got.version) == ({"v": 1}, 1)


def test_expected_version_n_writes_only_over_version_n(store: StateStore) -> None:
    store.put("k", {"v": 1})
    assert store.put("k", {"v": 2}, expected_version=1) == 2
    with pytest.raises(ConflictError):
        store.put("k", {"v": "stale"}, expected_version=1)
    with pytest.raises(ConflictError):
        store.put("k", {"v": "future"}, expected_version=3)
    got = store.get("k")
    assert got is not None
    assert (got.value, got.version) == ({"v": 2}, 2)


def test_expected_version_n_on_a_missing_key_conflicts(store: StateStore) -> None:
    with pytest.raises(ConflictError):
        store.put("k", {"v": 1}, expected_version=1)
    assert store.get("k") is None


def test_the_caller_mutating_its_dicts_changes_nothing_stored(store: StateStore) -> None:
    value = {"v": 1}
    store.put("k", value)
    value["v"] = 2
    got = store.get("k")
    assert got is not None
    got.value["v"] = 3
    again = store.get("k")
    assert again is not None
    assert again.value == {"v": 1}


def test_a_document_expires_after_its_ttl(store: StateStore, clock: Any) -> None:
    store.put("flag", {"on": True}, ttl_s=10)
    clock.advance(9.5)
    assert store.get("flag") is not None
    clock.advance(0.5)
    assert store.get("flag") is None


def test_an_expired_document_counts_as_missing_for_conditional_writes(store: StateStore, clock: Any) -> None:
    store.put("k", {"v": 1}, ttl_s=5)
    store.put("k", {"v": 2}, ttl_s=5)
    clock.advance(5)
    with pytest.raises(ConflictError):
        store.put("k", {"v": 3}, expected_version=2)
    assert store.put("k", {"v": 3}, expected_version=0) == 1


def test_a_put_without_ttl_clears_the_expiry(store: StateStore, clock: Any) -> None:
    store.put("k", {"v": 1}, ttl_s=5)
    store.put("k", {"v": 2})
    clock.advance(3600)
    got = store.get("k")
    assert got is not None
    assert got.value == {"v": 2}


def test_a_put_with_ttl_restarts_the_expiry(store: StateStore, clock: Any) -> None:
    store.put("k", {"v": 1}, ttl_s=5)
    clock.advance(4)
    store.put("k", {"v": 2}, ttl_s=5)
    clock.advance(4)
    assert store.get("k") is not None


@pytest.mark.adapters("sqlite", "memory")  # the cloud stores expire documents natively (DynamoDB TTL, Firestore TTL)
def test_purge_expired_drops_only_expired_documents(store: StateStore, clock: Any) -> None:
    purge = store.purge_expired  # type: ignore[attr-defined]
    store.put("short", {"v": 1}, ttl_s=5)
    store.put("long", {"v": 2}, ttl_s=50)
    store.put("forever", {"v": 3})
    clock.advance(10)
    assert purge() == 1
    assert purge() == 0
    assert store.get("long") is not None
    assert store.get("forever") is not None


# -- StateStore: candles -------------------------------------------------------------------------


def test_put_candles_counts_new_candles_and_keeps_existing_ones(store: StateStore) -> None:
    assert store.put_candles([candle(0), candle(60)]) == 2
    assert store.put_candles([candle(60, close=200.0), candle(120)]) == 1
    assert store.put_candles([]) == 0
    assert [c.close for c in store.recent_candles("BTC-USD", 60, 10)] == [100.0, 100.0, 100.0]


def test_a_batch_repeating_a_candle_counts_it_once(store: StateStore) -> None:
    assert store.put_candles([candle(0), candle(0, close=101.0), candle(60)]) == 2
    assert len(store.recent_candles("BTC-USD", 60, 10)) == 2


def test_recent_candles_round_trip_oldest_first(store: StateStore) -> None:
    bars = [candle(ts, close=100.0 + ts / 60) for ts in (180, 0, 120, 60)]
    store.put_candles(bars)
    assert store.recent_candles("BTC-USD", 60, 10) == sorted(bars, key=lambda c: c.ts)


def test_recent_candles_limit_keeps_the_newest(store: StateStore) -> None:
    store.put_candles([candle(ts) for ts in range(0, 600, 60)])
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 3)] == [420, 480, 540]
    assert store.recent_candles("BTC-USD", 60, 0) == []


def test_recent_candles_until_ts_is_inclusive(store: StateStore) -> None:
    store.put_candles([candle(ts) for ts in range(0, 600, 60)])
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 2, until_ts=240)] == [180, 240]
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 2, until_ts=239)] == [120, 180]
    assert store.recent_candles("BTC-USD", 60, 2, until_ts=-1) == []


def test_candles_are_kept_apart_by_symbol_and_timeframe(store: StateStore) -> None:
    store.put_candles([candle(0), candle(0, symbol="ETH-USD"), candle(0, timeframe_s=300), candle(60)])
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 10)] == [0, 60]
    assert store.recent_candles("ETH-USD", 60, 10) == [candle(0, symbol="ETH-USD")]
    assert store.recent_candles("BTC-USD", 300, 10) == [candle(0, timeframe_s=300)]
    assert store.recent_candles("SOL-USD", 60, 10) == []


def test_a_batch_of_newer_candles_mixing_series_keeps_each_apart(store: StateStore) -> None:
    store.put_candles([candle(0)])
    batch = [candle(60), candle(60, symbol="ETH-USD"), candle(120), candle(120, timeframe_s=300)]
    assert store.put_candles(batch) == 4
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 10)] == [0, 60, 120]
    assert store.recent_candles("ETH-USD", 60, 10) == [candle(60, symbol="ETH-USD")]
    assert store.put_candles([candle(180), candle(240)]) == 2  # one series' next candles
    assert store.put_candles([candle(240), candle(300)]) == 1  # the first one is there already
    assert [c.ts for c in store.recent_candles("BTC-USD", 60, 10)] == [0, 60, 120, 180, 240, 300]


def test_last_candle_ts(store: StateStore) -> None:
    assert store.last_candle_ts("BTC-USD", 60) is None
    store.put_candles([candle(120), candle(0)])
    store.put_candles([candle(60)])
    assert store.last_candle_ts("BTC-USD", 60) == 120
    assert store.last_candle_ts("BTC-USD", 300) is None


# -- HistoryStore: ledger ------------------------------------------------------------------------


def test_an_empty_stream_reads_empty_with_last_seq_0(store: HistoryStore) -> None:
    assert store.read("paper") == []
    assert store.last_seq("paper") == 0


def test_append_then_read_round_trips_events_in_order(store: HistoryStore) -> None:
    events = [event(1), event(2), event(3)]
    store.append("paper", events)
    assert store.read("paper") == events
    assert store.last_seq("paper") == 3


def test_appends_continue_the_stream_batch_after_batch(store: HistoryStore) -> None:
    store.append("paper", [event(1)])
    store.append("paper", [event(2), event(3)])
    store.append("paper", [])
    store.append("paper", [event(4)])
    assert [e.seq for e in store.read("paper")] == [1, 2, 3, 4]


def test_read_after_seq(store: HistoryStore) -> None:
    store.append("paper", [event(s) for s in range(1, 6)])
    assert [e.seq for e in store.read("paper", after_seq=3)] == [4, 5]
    assert store.read("paper", after_seq=5) == []
    assert len(store.read("paper", after_seq=0)) == 5


def test_the_first_event_must_be_seq_1(store: HistoryStore) -> None:
    with pytest.raises(SequenceConflictError) as caught:
        store.append("paper", [event(2)])
    assert (caught.value.stream, caught.value.expected, caught.value.got) == ("paper", 1, 2)
    assert store.last_seq("paper") == 0


def test_a_skipped_seq_is_refused_and_nothing_is_written(store: HistoryStore) -> None:
    store.append("paper", [event(1)])
    with pytest.raises(SequenceConflictError) as caught:
        store.append("paper", [event(2), event(3), event(5)])
    assert (caught.value.expected, caught.value.got) == (4, 5)
    assert store.last_seq("paper") == 1
    assert store.read("paper") == [event(1)]


def test_a_repeated_seq_is_refused_and_nothing_is_written(store: HistoryStore) -> None:
    store.append("paper", [event(1), event(2)])
    with pytest.raises(SequenceConflictError) as caught:
        store.append("paper", [event(2, event_id="retry"), event(3)])
    assert (caught.value.expected, caught.value.got) == (3, 2)
    with pytest.raises(SequenceConflictError):
        store.append("paper", [event(3), event(3, event_id="again")])
    assert store.last_seq("paper") == 2


def test_an_event_of_another_stream_is_refused(store: HistoryStore) -> None:
    with pytest.raises(SequenceConflictError) as caught:
        store.append("paper", [event(1), event(2, stream="live")])
    assert caught.value.stream == "paper"
    assert store.read("paper") == []
    assert store.read("live") == []


def test_a_duplicate_event_id_is_refused_and_nothing_is_written(store: HistoryStore) -> None:
    store.append("paper", [event(1, event_id="e1")])
    with pytest.raises(ConflictError):
        store.append("paper", [event(2, event_id="e2"), event(3, event_id="e1")])
    with pytest.raises(ConflictError):
        store.append("live", [event(1, stream="live", event_id="e1")])
    with pytest.raises(ConflictError):
        store.append("paper", [event(2, event_id="twice"), event(3, event_id="twice")])
    assert store.last_seq("paper") == 1
    assert store.last_seq("live") == 0


def test_streams_are_sequenced_independently(store: HistoryStore) -> None:
    store.append("paper", [event(1), event(2)])
    store.append("live", [event(1, stream="live")])
    assert store.last_seq("paper") == 2
    assert store.last_seq("live") == 1
    assert store.read("live") == [event(1, stream="live")]


# -- HistoryStore: projections -------------------------------------------------------------------


def test_projection_versions_and_conflicts(store: HistoryStore) -> None:
    assert store.get_projection("paper") is None
    with pytest.raises(ConflictError):
        store.put_projection("paper", {"cash": 1.0}, expected_version=1)
    assert store.put_projection("paper", {"cash": 1.0}, expected_version=0) == 1
    with pytest.raises(ConflictError):
        store.put_projection("paper", {"cash": 2.0}, expected_version=0)
    assert store.put_projection("paper", {"cash": 2.0}, expected_version=1) == 2
    with pytest.raises(ConflictError):
        store.put_projection("paper", {"cash": 3.0}, expected_version=1)
    got = store.get_projection("paper")
    assert got is not None
    assert (got.value, got.version) == ({"cash": 2.0}, 2)


def test_projection_round_trips_nested_json_and_is_copied(store: HistoryStore) -> None:
    value = dict(DOC)
    store.put_projection("paper", value, expected_version=0)
    value["cash"] = 0.0
    got = store.get_projection("paper")
    assert got is not None
    assert got.value == DOC
    assert store.get_projection("live") is None


# -- HistoryStore: decisions and rejections ------------------------------------------------------


def test_recent_decisions_newest_first_with_every_vote(store: HistoryStore) -> None:
    decisions = [decision(f"d{ts}", ts) for ts in (NOW + 60, NOW, NOW + 180, NOW + 120)]
    for d in decisions:
        store.record_decision(d)
    got = store.recent_decisions(10)
    assert got == sorted(decisions, key=lambda d: d.ts, reverse=True)
    assert len(got[0].votes) == 2
    assert [d.ts for d in store.recent_decisions(2)] == [NOW + 180, NOW + 120]
    assert store.recent_decisions(0) == []


def test_recent_decisions_per_symbol(store: HistoryStore) -> None:
    store.record_decision(decision("b1", NOW, "BTC-USD"))
    store.record_decision(decision("e1", NOW + 1, "ETH-USD"))
    store.record_decision(decision("b2", NOW + 2, "BTC-USD"))
    store.record_decision(decision("e2", NOW + 3, "ETH-USD"))
    assert [d.decision_id for d in store.recent_decisions(10, "BTC-USD")] == ["b2", "b1"]
    assert [d.decision_id for d in store.recent_decisions(1, "ETH-USD")] == ["e2"]
    assert store.recent_decisions(10, "SOL-USD") == []


def test_recording_a_decision_twice_keeps_the_first(store: HistoryStore) -> None:
    store.record_decision(decision("d1", NOW, reason="first"))
    store.record_decision(decision("d1", NOW, reason="redelivered"))
    assert [d.reason for d in store.recent_decisions(10)] == ["first"]


def test_decisions_at_the_same_ts_list_the_later_recorded_first(store: HistoryStore) -> None:
    for symbol in ("BTC-USD", "ETH-USD", "SOL-USD"):
        store.record_decision(decision(f"d-{symbol}", NOW, symbol))
    assert [d.symbol for d in store.recent_decisions(10)] == ["SOL-USD", "ETH-USD", "BTC-USD"]


def test_recent_rejections_newest_first_and_idempotent(store: HistoryStore) -> None:
    store.record_rejection(rejection("i1", NOW + 10))
    store.record_rejection(rejection("i2", NOW))
    store.record_rejection(rejection("i3", NOW + 20))
    store.record_rejection(rejection("i1", NOW + 30, reason="redelivered"))
    got = store.recent_rejections(10)
    assert [r.intent_id for r in got] == ["i3", "i1", "i2"]
    assert got[1] == rejection("i1", NOW + 10)
    assert [r.intent_id for r in store.recent_rejections(1)] == ["i3"]
    assert store.recent_rejections(0) == []


# -- CoordinationStore: idempotency --------------------------------------------------------------


def test_begin_claims_a_new_key_and_reports_the_claim_to_the_next_caller(store: CoordinationStore) -> None:
    assert store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30) is None
    record = store.begin("job", owner="w1", now=NOW + 29, in_progress_ttl_s=30)
    assert record is not None
    assert (record.key, record.status, record.result, record.expires_ts) == (
        "job",
        IdempotencyStatus.IN_PROGRESS,
        None,
        NOW + 30,
    )


def test_a_duplicate_after_complete_gets_the_result(store: CoordinationStore) -> None:
    assert store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30) is None
    store.complete("job", {"order": "o1", "fills": [1, 2]}, owner="w1", now=NOW + 1, ttl_s=3600)
    record = store.begin("job", owner="w1", now=NOW + 100, in_progress_ttl_s=30)
    assert record is not None
    assert record.status is IdempotencyStatus.COMPLETED
    assert record.result == {"order": "o1", "fills": [1, 2]}
    assert record.expires_ts == NOW + 1 + 3600


def test_abandon_lets_a_retry_claim_again(store: CoordinationStore) -> None:
    assert store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30) is None
    store.abandon("job", owner="w1")
    assert store.begin("job", owner="w1", now=NOW + 1, in_progress_ttl_s=30) is None
    store.abandon("never-claimed", owner="w1")


def test_abandon_leaves_a_completed_record(store: CoordinationStore) -> None:
    store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30)
    store.complete("job", {"ok": True}, owner="w1", now=NOW, ttl_s=3600)
    store.abandon("job", owner="w1")
    record = store.begin("job", owner="w1", now=NOW + 1, in_progress_ttl_s=30)
    assert record is not None
    assert record.status is IdempotencyStatus.COMPLETED


def test_an_expired_in_progress_claim_is_taken_over(store: CoordinationStore) -> None:
    assert store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30) is None
    assert store.begin("job", owner="w1", now=NOW + 30, in_progress_ttl_s=30) is None
    record = store.begin("job", owner="w1", now=NOW + 31, in_progress_ttl_s=30)
    assert record is not None
    assert (record.status, record.expires_ts) == (IdempotencyStatus.IN_PROGRESS, NOW + 60)


def test_a_completed_record_is_forgotten_after_its_ttl(store: CoordinationStore) -> None:
    store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30)
    store.complete("job", {"ok": True}, owner="w1", now=NOW, ttl_s=100)
    assert store.begin("job", owner="w1", now=NOW + 99, in_progress_ttl_s=30) is not None
    assert store.begin("job", owner="w1", now=NOW + 100, in_progress_ttl_s=30) is None


def test_idempotency_keys_are_independent(store: CoordinationStore) -> None:
    assert store.begin("a", owner="w1", now=NOW, in_progress_ttl_s=30) is None
    assert store.begin("b", owner="w1", now=NOW, in_progress_ttl_s=30) is None


def test_the_stored_result_is_a_copy(store: CoordinationStore) -> None:
    result: dict[str, Any] = {"order": "o1"}
    store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30)
    store.complete("job", result, owner="w1", now=NOW, ttl_s=3600)
    result["order"] = "changed"
    record = store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30)
    assert record is not None
    assert record.result == {"order": "o1"}


# -- CoordinationStore: leases -------------------------------------------------------------------


def test_a_lease_is_exclusive_until_it_expires(store: CoordinationStore) -> None:
    assert store.acquire_lease("ingest", "a", now=NOW, ttl_s=60) is True
    assert store.acquire_lease("ingest", "b", now=NOW + 59, ttl_s=60) is False
    assert store.acquire_lease("other", "b", now=NOW, ttl_s=60) is True


def test_a_lease_is_reentrant_and_renewing_extends_it(store: CoordinationStore) -> None:
    assert store.acquire_lease("ingest", "a", now=NOW, ttl_s=60) is True
    assert store.acquire_lease("ingest", "a", now=NOW + 50, ttl_s=60) is True
    assert store.acquire_lease("ingest", "b", now=NOW + 100, ttl_s=60) is False
    assert store.acquire_lease("ingest", "b", now=NOW + 110, ttl_s=60) is True


def test_an_expired_lease_is_taken_over(store: CoordinationStore) -> None:
    assert store.acquire_lease("ingest", "a", now=NOW, ttl_s=60) is True
    assert store.acquire_lease("ingest", "b", now=NOW + 60, ttl_s=60) is True
    assert store.acquire_lease("ingest", "a", now=NOW + 61, ttl_s=60) is False


def test_only_the_owner_releases_a_lease(store: CoordinationStore) -> None:
    store.acquire_lease("ingest", "a", now=NOW, ttl_s=60)
    store.release_lease("ingest", "b")
    assert store.acquire_lease("ingest", "b", now=NOW + 1, ttl_s=60) is False
    store.release_lease("ingest", "a")
    assert store.acquire_lease("ingest", "b", now=NOW + 1, ttl_s=60) is True
    store.release_lease("never-held", "a")


# -- MemoryStore options (not part of the contract) ----------------------------------------------


def test_memory_store_max_decisions_keeps_the_newest() -> None:
    store = MemoryStore(max_decisions=3)
    for ts in range(10):
        store.record_decision(decision(f"d{ts}", NOW + ts, "BTC-USD" if ts % 2 else "ETH-USD"))
    store.record_decision(decision("late", NOW - 5))
    assert [d.decision_id for d in store.recent_decisions(10)] == ["d9", "d8", "d7"]
    assert [d.decision_id for d in store.recent_decisions(10, "BTC-USD")] == ["d9", "d7"]


def test_memory_store_refuses_a_max_decisions_below_1() -> None:
    with pytest.raises(ValueError, match="max_decisions"):
        MemoryStore(max_decisions=0)


def test_only_the_owner_completes_a_claim(store: CoordinationStore) -> None:
    assert store.begin("job", owner="w1", now=NOW, in_progress_ttl_s=30) is None
    with pytest.raises(ConflictError):
        store.complete("job", {"ok": False}, owner="w2", now=NOW + 1, ttl_s=3600)
    store.complete("job", {"ok": True}, owner="w1", now=NOW + 2, ttl_s=3600)
    record = store.begin("job", owner="w3", now=NOW + 3, in_progress_ttl_s=30)
    assert record is not None and record.result == {"ok": True}


def test_a_worker_presumed_dead_cannot_finish_its_successors_claim(store: CoordinationStore) -> None:
    assert store.begin("job", owner="slow", now=NOW, in_progress_ttl_s=30) is None
    assert store.begin("job", owner="next", now=NOW + 31, in_progress_ttl_s=30) is None  # taken over
    store.abandon("job", owner="slow")  # no effect: not its claim any more
    with pytest.raises(ConflictError):
        store.complete("job", {"by": "slow"}, owner="slow", now=NOW + 32, ttl_s=3600)
    store.complete("job", {"by": "next"}, owner="next", now=NOW + 33, ttl_s=3600)
    record = store.begin("job", owner="later", now=NOW + 34, in_progress_ttl_s=30)
    assert record is not None and record.result == {"by": "next"}


def test_completing_an_unclaimed_key_is_refused(store: CoordinationStore) -> None:
    with pytest.raises(ConflictError):
        store.complete("never", {"ok": True}, owner="w1", now=NOW, ttl_s=3600)
