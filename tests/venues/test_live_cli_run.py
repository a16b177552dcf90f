"""`coinswarm run` as a user calls it, in live mode against the local fake exchange (never a real venue):
the banner says LIVE, the venue and the per-order cap; the candles come from the venue; an order goes
out once and `coinswarm ledger verify` passes; a replay, the synthetic series and an unreachable venue
are refused before anything is sent. And `market.source = "venue"` on paper.

The fake exchange runs on the real clock here (the CLI's cycles are timed by it); each run is one
cycle, so nothing waits for a candle to close."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from live_helpers import SYMBOL, venue_keys_toml
from venue_helpers import BN_API_KEY, BN_SECRET, CB_KEY_NAME

from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.cli.main import main
from coinswarm.marketdata.candle_files import write_candles
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.stages.ledger import Ledger
from coinswarm.venues.fake import FakeExchange

CANDLES = {"coinbase": "/candles", "binance": "/api/v3/klines"}


@pytest.fixture
def exchange(ec_private_pem: str) -> Iterator[FakeExchange]:
    """The fake exchange on the real clock, with both venues' keys, BTC rising 30 % an hour (so a
    trend follower buys at once, and the first warm-up candle's open is 15 % below the price now: the
    live broker must judge the decision by the close it was made on, not by that open)."""
    key = serialization.load_pem_private_key(ec_private_pem.encode(), password=None)
    with FakeExchange() as fake:
        fake.add_coinbase_key(CB_KEY_NAME, key.public_key())  # type: ignore[arg-type]
        fake.add_binance_key(BN_API_KEY, BN_SECRET)
        for symbol in SYMBOL.values():
            fake.engine.set_price(symbol, 60_000.0)
            fake.engine.set_trend(symbol, 0.30)
        yield fake


def config(
    tmp: Path, venue: str, url: str, pem: str, *, mode: str = "live", wiring: str = "fused", **market: Any
) -> Path:
    """The TOML a user writes to rehearse live mode (keys in the file only because they are the fake's)."""
    keys = venue_keys_toml(venue, pem)
    market_lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in {"warmup_candles": 30, **market}.items())
    text = f"""
mode = "{mode}"
account = "rehearsal"
symbols = ["{SYMBOL[venue]}"]
timeframe = "1m"
wiring = "{wiring}"

[[venues]]
name = "{venue}"
fee_bps = 10.0
{keys}

[committee]
weights = {{ trend = 1.0 }}
quorum = 1
threshold = 0.3

[agents.trend]
fast = 3
slow = 10
atr = 5

[sizing]
buy_notional = 100.0

[market]
{market_lines}

[store]
path = "{tmp / "live.db"}"

[live]
confirm = true
max_order_notional = 250.0
venue_url = "{url}"
"""
    path = tmp / f"{venue}-{mode}.toml"
    path.write_text(text)
    return path


def venue_requests(fake: FakeExchange, part: str) -> list[str]:
    return [r.path for r in fake.requests if part in r.path]


@pytest.mark.parametrize(("venue", "wiring"), [("coinbase", "fused"), ("binance", "fused"), ("coinbase", "mesh")])
def test_a_live_run_says_live_reads_the_venue_and_places_once(
    tmp_path: Path,
    exchange: FakeExchange,
    ec_private_pem: str,
    venue: str,
    wiring: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = config(tmp_path, venue, exchange.url, ec_private_pem, wiring=wiring)
    assert main(["run", "--config", str(cfg), "--cycles", "1"]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    out = captured.out
    secret_parts = [BN_SECRET, ec_private_pem.splitlines()[1]]
    assert not any(part in out + captured.err for part in secret_parts)
    banner = out.splitlines()[0]
    assert "LIVE trading on " + venue in banner and exchange.url in banner and "PAPER" not in banner
    assert "orders up to 250.00 each" in banner and f"data: {venue} live market data" in banner
    assert f"state {tmp_path / 'live.db'}" in out and "(fresh)" not in out
    assert venue_requests(exchange, CANDLES[venue]), "candles come from the venue"
    (line,) = [x for x in out.splitlines() if " | " in x]
    assert SYMBOL[venue] in line and "BUY" in line, out
    placed = exchange.engine.placed
    assert len(placed) == 1 and placed[0].side == "BUY" and placed[0].quote_size == 100.0
    assert f"broker      LIVE on {venue} at {exchange.url}" in out
    assert main(["ledger", "verify", "--config", str(cfg)]) == 0
    verified = capsys.readouterr().out
    assert "OK" in verified and "the live broker's book live:rehearsal:book agrees" in verified
    assert "1 live order(s) still followed" in verified

    # the next run continues on the same state file and never sends that order again (within the same
    # minute it decides nothing new; past it, a new candle may bring a new order of its own)
    first = placed[0].client_order_id
    assert main(["run", "--config", str(cfg), "--cycles", "1"]) == 0
    cids = [o.client_order_id for o in exchange.engine.placed]
    assert cids.count(first) == 1 and len(set(cids)) == len(cids)
    store = SqliteStore(tmp_path / "live.db")
    book = store.get("live:rehearsal:book")
    store.close()
    assert book is not None and set(cids) <= set(book.value["orders"])
    assert main(["ledger", "verify", "--config", str(cfg)]) == 0


def test_replay_synthetic_and_a_synthetic_source_are_refused_in_live_mode(
    tmp_path: Path, exchange: FakeExchange, ec_private_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, "coinbase", exchange.url, ec_private_pem)
    candles = synthetic_candles("BTC-USD", 100, seed=1, start_ts=1_700_000_040, timeframe_s=60)
    csv = write_candles(tmp_path / "BTC_USD-1m.csv", candles)
    assert main(["run", "--config", str(cfg), "--replay", str(csv), "--cycles", "1"]) == 2
    err = capsys.readouterr().err
    assert "--replay is refused in live mode" in err and "current prices" in err and "mode = 'paper'" in err
    assert main(["run", "--config", str(cfg), "--synthetic", "--cycles", "1"]) == 2
    assert "--synthetic is refused in live mode" in capsys.readouterr().err
    synthetic = config(tmp_path, "coinbase", exchange.url, ec_private_pem, source="synthetic")
    assert main(["run", "--config", str(synthetic), "--cycles", "1"]) == 2
    assert "market.source = 'synthetic' is refused in live mode" in capsys.readouterr().err
    binance_on_coinbase = config(tmp_path, "binance", exchange.url, ec_private_pem, source="coinbase")
    assert main(["run", "--config", str(binance_on_coinbase), "--cycles", "1"]) == 2
    assert "orders go to binance" in capsys.readouterr().err
    assert exchange.requests == [] and not (tmp_path / "live.db").exists()


@pytest.mark.parametrize("venue", ["coinbase", "binance"])
def test_a_key_that_can_withdraw_stops_a_live_run_before_any_order(
    tmp_path: Path, ec_private_pem: str, venue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = serialization.load_pem_private_key(ec_private_pem.encode(), password=None)
    with FakeExchange() as fake:
        fake.add_coinbase_key(CB_KEY_NAME, key.public_key(), can_transfer=True)  # type: ignore[arg-type]
        fake.add_binance_key(BN_API_KEY, BN_SECRET, withdrawals=True)
        fake.engine.set_trend(SYMBOL[venue], 0.30)
        cfg = config(tmp_path, venue, fake.url, ec_private_pem)
        assert main(["run", "--config", str(cfg), "--cycles", "1"]) == 2
        err = capsys.readouterr().err
        assert "can withdraw or transfer funds: refused for trading" in err and "PAPER" not in err
        assert fake.engine.placed == [] and not any(r.method == "POST" for r in fake.requests)


def test_an_unreachable_venue_stops_a_live_run_without_falling_back(
    tmp_path: Path, ec_private_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    cfg = config(tmp_path, "binance", f"http://127.0.0.1:{closed}", ec_private_pem)
    assert main(["run", "--config", str(cfg), "--cycles", "1"]) == 2
    captured = capsys.readouterr()
    assert "never falls back" in captured.err and "SYNTHETIC" not in captured.out + captured.err
    assert BN_SECRET not in captured.out + captured.err


def test_a_paper_run_reads_the_venue_when_market_source_says_venue(
    tmp_path: Path, exchange: FakeExchange, ec_private_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, "coinbase", exchange.url, ec_private_pem, mode="paper", source="venue")
    assert main(["run", "--config", str(cfg), "--cycles", "1"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.startswith("Coinswarm · PAPER trading · data: coinbase live market data")
    assert venue_requests(exchange, "/candles") and exchange.engine.placed == []  # a paper order stays paper
    (line,) = [x for x in out.splitlines() if " | " in x]
    assert "BTC-USD" in line and "BUY" in line
    assert main(["ledger", "verify", "--config", str(cfg)]) == 0


def test_a_paper_run_on_venue_data_does_not_fall_back_when_the_venue_is_down(
    tmp_path: Path, ec_private_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    cfg = config(tmp_path, "coinbase", f"http://127.0.0.1:{closed}", ec_private_pem, mode="paper", source="venue")
    assert main(["run", "--config", str(cfg), "--cycles", "1"]) == 2
    assert "market.source = 'venue' allows no fallback" in capsys.readouterr().err


def test_a_live_run_does_not_join_an_account_that_traded_on_paper(
    tmp_path: Path, exchange: FakeExchange, ec_private_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "live.db")  # the live configuration's store.path
    paper = config(tmp_path, "coinbase", exchange.url, ec_private_pem, mode="paper")
    assert main(["run", "--config", str(paper), "--synthetic", "--cycles", "120", "--state", state]) == 0
    store = SqliteStore(state)
    fills = Ledger(store, "account:rehearsal").portfolio().fills
    store.close()
    assert fills > 0
    capsys.readouterr()
    live = config(tmp_path, "coinbase", exchange.url, ec_private_pem)
    assert main(["run", "--config", str(live), "--cycles", "1"]) == 2
    err = capsys.readouterr().err
    assert f"already holds {fills} paper fill(s)" in err and "its own account" in err
    assert exchange.engine.placed == []
