"""The real ledger service (coinswarm.stages.ledger.Ledger) on CosmosHistoryStore and the emulator."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from coinswarm.domain.models import Fill, Side
from coinswarm.stages.ledger import Ledger
from servers.cosmos import CosmosServer, history_store

NOW = 1_700_000_000
STREAM = "account:paper"


def fill(fill_id: str, side: Side, quantity: float, price: float, ts: int = NOW) -> Fill:
    return Fill(
        fill_id=fill_id,
        client_order_id=f"o-{fill_id}",
        symbol="BTC-USD",
        side=side,
        quantity=quantity,
        price=price,
        fee=round(quantity * price * 0.006, 8),
        ts=ts,
    )


def test_open_record_project_and_verify(cosmos_server: CosmosServer, cosmos_database: str) -> None:
    store = history_store(cosmos_server, cosmos_database)
    ledger = Ledger(store, STREAM)
    assert ledger.open_account(10_000.0, NOW) is True
    assert ledger.open_account(10_000.0, NOW) is False

    buy = fill("f1", Side.BUY, 0.1, 42_000.5)
    assert ledger.record_fill(buy) is True
    assert ledger.record_fill(buy) is False  # delivered twice: recorded once
    assert ledger.record_fill(fill("f2", Side.SELL, 0.04, 43_100.25, NOW + 60)) is True

    portfolio = ledger.project()
    assert [e.seq for e in ledger.events()] == [1, 2, 3]
    assert [e.event_id for e in ledger.events()] == ["account:paper/opened", "f1", "f2"]
    assert portfolio.seq == 3 and portfolio.fills == 2
    assert portfolio.quantity("BTC-USD") == pytest.approx(0.06)
    stored = store.get_projection(STREAM)
    assert stored is not None and stored.value == portfolio.to_dict()  # floats exact through Cosmos DB

    report = ledger.verify()
    assert report.ok, report.problems
    assert report.events == 3


def test_verify_reports_a_tampered_projection(cosmos_server: CosmosServer, cosmos_database: str) -> None:
    store = history_store(cosmos_server, cosmos_database)
    ledger = Ledger(store, STREAM)
    ledger.open_account(10_000.0, NOW)
    ledger.record_fill(fill("f1", Side.BUY, 0.1, 42_000.5))
    ledger.project()
    stored = store.get_projection(STREAM)
    assert stored is not None
    tampered = dict(stored.value, cash=stored.value["cash"] + 100.0)
    store.put_projection(STREAM, tampered, expected_version=stored.version)

    report = ledger.verify()
    assert not report.ok
    assert any("cash" in problem for problem in report.problems), report.problems


def test_fills_recorded_at_once_by_eight_workers_each_land_once(
    cosmos_server: CosmosServer, cosmos_database: str
) -> None:
    workers = 8
    Ledger(history_store(cosmos_server, cosmos_database), STREAM).open_account(100_000.0, NOW)
    ledgers = [
        Ledger(history_store(cosmos_server, cosmos_database, client=cosmos_server.new_client()), STREAM)
        for _ in range(workers)
    ]
    fills = [fill(f"f{i}", Side.BUY, 0.01, 40_000.0 + i, NOW + i) for i in range(workers)]
    barrier = threading.Barrier(workers)

    def record(i: int) -> tuple[bool, bool]:
        barrier.wait()
        first = ledgers[i].record_fill(fills[i])
        barrier.wait()
        again = ledgers[i].record_fill(fills[(i + 1) % workers])  # everyone's fill is redelivered to a neighbour
        ledgers[i].project()
        return first, again

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(record, range(workers)))
    assert results == [(True, False)] * workers
    events = ledgers[0].events()
    assert [e.seq for e in events] == list(range(1, workers + 2))
    assert sorted(e.event_id for e in events[1:]) == sorted(f.fill_id for f in fills)
    report = ledgers[0].verify()
    assert report.ok, report.problems
