"""`coinswarm ledger verify` in live mode reconciles the live broker's book (`live:<account>:book`) with
the ledger: after whole live cycles against the fake exchange it agrees; a tampered book fails, naming
what differs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from live_helpers import LiveRun, start_live
from venue_helpers import FakeClock

from coinswarm.adapters.live_broker import book_key
from coinswarm.venues.fake import FakeExchange
from coinswarm.wiring.bootstrap import open_store


def traded(tmp_path: Path, fake: FakeExchange, clock: FakeClock, pem: str) -> LiveRun:
    run = start_live(tmp_path, "coinbase", fake, clock, pem)
    run.run_until(lambda: len(run.filled_cids()) >= 1 and run.settled())
    return run


def tamper(run: LiveRun, **changes: object) -> None:
    key = book_key(run.settings.account)
    found = run.app.state.get(key)
    assert found is not None
    book = {**found.value}
    for field, change in changes.items():
        book[field] = change(book[field])  # type: ignore[operator]
    run.app.state.put(key, book, expected_version=found.version)


def test_verify_agrees_with_the_live_book_after_live_cycles(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    run = traded(tmp_path, fake, clock, ec_private_pem)
    code, out = run.cli("ledger", "verify")
    assert code == 0 and f"the live broker's book {book_key('live-coinbase')} agrees" in out, out
    code, out = run.cli("ledger", "verify", "--json")
    assert code == 0 and json.loads(out)["book"] == f"the live broker's book {book_key('live-coinbase')}"


@pytest.mark.parametrize(
    ("field", "change", "expected"),
    [
        ("cash", lambda cash: cash + 5.0, "live broker cash"),
        ("positions", lambda held: {s: q * 2 for s, q in held.items()}, "live broker holds"),
    ],
)
def test_a_tampered_live_book_fails_verify(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str, field: str, change, expected: str
) -> None:
    run = traded(tmp_path, fake, clock, ec_private_pem)
    assert run.app.ledger.portfolio().holdings or field == "cash"
    tamper(run, **{field: change})
    code, out = run.cli("ledger", "verify")
    assert code == 1, out
    assert "1 problem(s)" in out and expected in out and book_key("live-coinbase") in out
    code, out = run.cli("ledger", "verify", "--json")
    result = json.loads(out)
    assert code == 1 and result["ok"] is False and expected in result["problems"][0]


def test_the_live_ledgers_store_syncs_every_commit(
    tmp_path: Path, fake: FakeExchange, clock: FakeClock, ec_private_pem: str
) -> None:
    """Issue 10 item 5: in WAL mode `synchronous=NORMAL` may lose the last commits to a power loss (a fill the
    venue made, or an order's write-ahead record, forgotten); the live account's store runs FULL (2)."""
    run = start_live(tmp_path, "coinbase", fake, clock, ec_private_pem)
    store = run.app.history
    assert type(store).__name__ == "SqliteStore"
    assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == 2  # type: ignore[attr-defined]
    assert store._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # type: ignore[attr-defined]
    paper = open_store(run.settings.model_copy(update={"mode": "paper", "store": run.settings.store}))
    assert paper._connection().execute("PRAGMA synchronous").fetchone()[0] == 1  # paper keeps NORMAL: cheaper
    paper.close()
