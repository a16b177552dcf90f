"""The Google Cloud side of the mesh, for real: each entry point served over HTTP by the
functions-framework CLI in its own process (gunicorn, as Cloud Functions runs it), the Pub/Sub emulator
pushing every message to the function its subscription names, and the functions publishing what their
stage hands on through PubSubBus.

State: every function opens the same SQLite file in a temporary folder (the embedded default for all
three store ports). That is the simplest set-up in which separate function processes see each other's
writes and race on the same conditional writes; the Firestore adapter is tested on its own emulator
by its contract tests. What runs for real here: functions-framework's server and its conversion of a
Pub/Sub push into a CloudEvent, the emulator's push subscriptions (retry policy, dead-letter topic),
the entry points and `functions/gcp_common.py`, PubSubBus inside the functions, the JSON log lines.

Observation: each function's stdout (its JSON log lines) goes to a file, and a pull subscription (a
"tap") on every topic receives every message the functions publish, since Pub/Sub gives each
subscription of a topic its own copy. Every wait is a bounded poll.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

pytest.importorskip("google.cloud.pubsub_v1", reason="google-cloud-pubsub is not installed (.[gcp])")

from coinswarm.adapters.pubsub_bus import CYCLE_ID_ATTRIBUTE, TOPIC_ATTRIBUTE, TOPICS, PubSubBus
from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.domain.models import FillRecorded
from coinswarm.http.signing import sign
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.observability.logs import trace_id
from coinswarm.stages.ledger import Ledger
from coinswarm.stages.messages import (
    CANDLES,
    DECISIONS,
    LOGGED,
    PLACEMENTS,
    CandlesReady,
    DecisionReady,
    PlacementDone,
    TradesLogged,
    decode,
)
from decisions import buy_decision, hold_decision
from servers.gcloud import pubsub_clients

ROOT = Path(__file__).resolve().parents[3]
FRAMEWORK = Path(sys.executable).with_name("functions-framework")
PROJECT = "coinswarm-it"
TF = 60
VENUE_KEY = "venue-key-4f1d9c2be07a"
VENUE_SECRET = "venue-secret-8e3b51aa96d0c4"
MANUAL_SECRET = "manual-trade-secret-0b7f3e9c5d1a2468"
SECRETS = (VENUE_KEY, VENUE_SECRET, MANUAL_SECRET)
VENUE = {"name": "coinbase", "fee_bps": 60, "api_key": VENUE_KEY, "api_secret": VENUE_SECRET}
FUNCTIONS = {  # name: signature type
    "tick_ingest": "http",
    "agent_scoring": "cloudevent",
    "committee_vote": "cloudevent",
    "order_placement": "cloudevent",
    "trade_logging": "cloudevent",
    "manual_trade": "http",
}
START_TIMEOUT_S = 40.0
WAIT_S = 40.0
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout_s: float = WAIT_S) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:g} s for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def last_close(now: float | None = None) -> int:
    """The close (and so the end) of the newest closed one-minute candle."""
    return int((time.time() if now is None else now) // TF * TF)


@dataclass
class Tapped:
    attributes: dict[str, str]
    data: bytes


@dataclass
class Mesh:
    prefix: str
    folder: Path
    state_path: Path
    urls: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]
    bus: PubSubBus
    subscriber: Any
    taps: dict[str, str]
    seen: dict[str, list[Tapped]] = field(default_factory=dict)

    def log_path(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def lines(self, name: str) -> list[dict[str, Any]]:
        """The function's JSON log lines so far (a line still being written is left for later)."""
        text = self.log_path(name).read_text()
        return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n") and line.strip()]

    def handled(self, name: str, cycle_id: str) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines(name)
            if line.get("cycle_id") == cycle_id and ": handled " in line["message"] and line["severity"] == "INFO"
        ]

    def tapped(self, topic: str, cycle_id: str) -> list[Tapped]:
        """Every message published on `topic` for the cycle so far (pulled from its tap, kept here)."""
        kept = self.seen.setdefault(topic, [])
        response = self.subscriber.pull(request={"subscription": self.taps[topic], "max_messages": 500}, timeout=5)
        if response.received_messages:
            kept.extend(Tapped(dict(m.message.attributes), m.message.data) for m in response.received_messages)
            self.subscriber.acknowledge(
                request={"subscription": self.taps[topic], "ack_ids": [m.ack_id for m in response.received_messages]}
            )
        return [m for m in kept if m.attributes.get(CYCLE_ID_ATTRIBUTE) == cycle_id]

    def store(self) -> SqliteStore:
        return SqliteStore(self.state_path)


def _serve(name: str, port: int, env: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    with (folder / f"{name}.log").open("wb") as out, (folder / f"{name}.err").open("wb") as err:
        return subprocess.Popen(
            [
                str(FRAMEWORK),
                "--source",
                str(ROOT / "functions" / name / "gcp.py"),
                "--target",
                name,
                "--signature-type",
                FUNCTIONS[name],
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: gunicorn's master and worker stop together
        )


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each function's process group (gunicorn's master and worker), then SIGKILL what is left."""
    for sig, grace_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        deadline = time.monotonic() + grace_s
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))
    for process in processes:  # a worker that outlived its master
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _answers(url: str, process: subprocess.Popen[bytes], err: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"{url}: the function exited with {process.returncode}:\n{err.read_text()[-3000:]}")
    try:
        httpx.get(url, timeout=1.0)
    except httpx.TransportError:
        return False
    return True


@pytest.fixture(scope="module")
def mesh(pubsub_emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    if not FRAMEWORK.exists():
        pytest.skip(f"the functions-framework CLI is not installed beside {sys.executable} (.[gcp])")
    folder = tmp_path_factory.mktemp("gcp-mesh")
    prefix = f"it{uuid.uuid4().hex[:8]}"
    state_path = folder / "state.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_")}
    env.update(
        PUBSUB_EMULATOR_HOST=pubsub_emulator,
        PYTHONUNBUFFERED="1",
        COINSWARM_GCP__PROJECT=PROJECT,
        COINSWARM_GCP__COLLECTION_PREFIX=prefix,
        COINSWARM_STORE__PATH=str(state_path),
        COINSWARM_MARKET__SOURCE="synthetic",
        COINSWARM_MARKET__WARMUP_CANDLES="60",
        COINSWARM_SYMBOLS="BTC-USD",
        COINSWARM_VENUES=json.dumps([VENUE]),
        COINSWARM_MANUAL_TRADE_SECRET=MANUAL_SECRET,
    )
    ports = {name: free_port() for name in FUNCTIONS}
    urls = {name: f"http://127.0.0.1:{port}/" for name, port in ports.items()}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    publisher, subscriber = pubsub_clients(pubsub_emulator)
    bus = PubSubBus(publisher, project=PROJECT, prefix=prefix, timeout_s=10)
    taps = {route.topic: f"projects/{PROJECT}/subscriptions/{prefix}-{route.topic}-tap" for route in TOPICS}
    try:
        for name in FUNCTIONS:
            processes[name] = _serve(name, ports[name], env, folder)
        consumers = {route.topic: urls[route.consumer] for route in TOPICS if route.consumer}
        bus.create_topics(consumers, subscriber=subscriber, retry_backoff_s=(1, 5))
        for route in TOPICS:
            subscriber.create_subscription(
                request={"name": taps[route.topic], "topic": f"projects/{PROJECT}/topics/{route.topic_id(prefix)}"}
            )
        for name, url in urls.items():
            process, err = processes[name], folder / f"{name}.err"
            wait_for(f"{name} to answer", lambda u=url, p=process, e=err: _answers(u, p, e), START_TIMEOUT_S)
        yield Mesh(prefix, folder, state_path, urls, processes, bus, subscriber, taps)
    finally:
        _delete_layout(publisher, subscriber, prefix)  # first, so that nothing pushes to stopped functions
        _stop_all(list(processes.values()))
        subscriber.close()
        publisher.stop()


def _delete_layout(publisher: Any, subscriber: Any, prefix: str) -> None:
    project = f"projects/{PROJECT}"
    for sub in subscriber.list_subscriptions(request={"project": project}):
        if sub.name.split("/")[-1].startswith(f"{prefix}-"):
            subscriber.delete_subscription(request={"subscription": sub.name})
    for topic in publisher.list_topics(request={"project": project}):
        if topic.name.split("/")[-1].startswith(f"{prefix}-"):
            publisher.delete_topic(request={"topic": topic.name})


def candles_ready(symbol: str, cycle_id: str, n: int = 80, start_price: float = 100.0) -> CandlesReady:
    end = last_close()
    candles = synthetic_candles(symbol, n, seed=11, start_ts=end - n * TF, timeframe_s=TF, start_price=start_price)
    return CandlesReady(cycle_id=cycle_id, symbol=symbol, candles=tuple(candles))


def chain_done(mesh: Mesh, cycle_id: str) -> None:
    """Wait until trade_logging, the end of the chain, has handled the cycle's PlacementDone."""
    wait_for(f"trade_logging to handle {cycle_id}", lambda: mesh.handled("trade_logging", cycle_id))


# -- (b) the chain, push by push ------------------------------------------------------------------------


def test_a_candles_message_runs_scoring_vote_placement_and_logging_through_pushes(mesh: Mesh) -> None:
    cycle = f"it-chain-{uuid.uuid4().hex[:8]}"
    mesh.bus.publish(CANDLES, candles_ready("SOL-USD", cycle))
    chain_done(mesh, cycle)
    for name in ("agent_scoring", "committee_vote", "order_placement", "trade_logging"):
        assert len(mesh.handled(name, cycle)) == 1, name  # each function, in its own process, got one push
    # what each published, seen on the taps
    assert [decode(CandlesReady, m.data).symbol for m in mesh.tapped(CANDLES, cycle)] == ["SOL-USD"]
    (scores,) = wait_for("the ScoresReady", lambda: mesh.tapped("scores", cycle))
    (decisions,) = wait_for("the DecisionReady", lambda: mesh.tapped(DECISIONS, cycle))
    (placement,) = wait_for("the PlacementDone", lambda: mesh.tapped(PLACEMENTS, cycle))
    assert scores.attributes[TOPIC_ATTRIBUTE] == "scores"
    decided = decode(DecisionReady, decisions.data)
    assert decided.symbol == "SOL-USD" and len(decided.steps) == 1
    assert decode(PlacementDone, placement.data).symbol == "SOL-USD"
    with mesh.store() as store:  # the vote's audit trail, written by committee_vote's process
        recorded = store.recent_decisions(5, symbol="SOL-USD")
    assert [d.cycle_id for d in recorded] == [cycle]


# -- (c) at-least-once delivery, exactly one trade ---------------------------------------------------------


def test_the_same_order_pushed_fifty_times_places_one_order_and_records_one_fill(mesh: Mesh) -> None:
    ts = last_close()
    cycle = f"it-once-{uuid.uuid4().hex[:8]}"
    message = _buy("ETH-USD", cycle, ts)
    intent_id = message.steps[0].intent.intent_id  # type: ignore[union-attr]
    ids = mesh.bus.publish_many([(DECISIONS, message)] * 50)
    assert len(set(ids)) == 50  # fifty distinct Pub/Sub messages with one body
    wait_for("50 deliveries to order_placement", lambda: len(mesh.handled("order_placement", cycle)) >= 50)
    # one delivery placed it; a duplicate that came while it ran was refused (503: Pub/Sub redelivers it),
    # and every later one, a redelivered refusal included, handed on that first PlacementDone again (the
    # outbox kept with the message's claim): fifty copies of one body, none acknowledged with nothing
    tapped = wait_for("50 PlacementDones", lambda: m if len(m := mesh.tapped(PLACEMENTS, cycle)) >= 50 else [])
    assert len(tapped) == 50 and len({m.data for m in tapped}) == 1
    done = decode(PlacementDone, tapped[0].data)
    assert [o.client_order_id for o in done.orders] == [intent_id]
    mine = [line for line in mesh.lines("order_placement") if line.get("cycle_id") == cycle]
    refused = [line for line in mine if "another delivery holds this claim" in line["message"]]
    assert all(line["severity"] == "WARNING" and "Pub/Sub redelivers it" in line["message"] for line in refused)
    assert not [line for line in mine if line["severity"] == "ERROR"]

    settle = f"it-settle-{uuid.uuid4().hex[:8]}"  # the next cycle observes a price: the order fills, once
    mesh.bus.publish_many([(DECISIONS, _hold("ETH-USD", settle, ts + TF, price=101.0))] * 3)
    wait_for("3 settling deliveries", lambda: len(mesh.handled("order_placement", settle)) >= 3)
    logged = wait_for("the TradesLogged", lambda: mesh.tapped(LOGGED, settle))
    appended = sorted(decode(TradesLogged, m.data).appended for m in logged)
    assert appended[-1] == 1 and sum(appended) == 1  # the fill reached the ledger once, its repeats as duplicates
    with mesh.store() as store:
        book = store.get("paper:paper:book")
        assert book is not None
        orders = {cid: o for cid, o in book.value["orders"].items() if o["symbol"] == "ETH-USD"}
        assert list(orders) == [intent_id] and orders[intent_id]["status"] == "filled"
        ledger = Ledger(store, "account:paper")
        fills = [e.payload.fill for e in ledger.events() if isinstance(e.payload, FillRecorded)]
        assert [f.client_order_id for f in fills if f.symbol == "ETH-USD"] == [intent_id]
        report = ledger.verify()
        assert report.ok, report.problems


def _buy(symbol: str, cycle: str, ts: int) -> DecisionReady:
    intent_id = f"cs-it-{uuid.uuid4().hex[:12]}"
    return buy_decision(
        symbol, cycle, ts, intent_id=intent_id, notional=500, price=100.0, settle_ts=ts - TF, reason="integration test"
    )


def _hold(symbol: str, cycle: str, ts: int, *, price: float) -> DecisionReady:
    return hold_decision(symbol, cycle, ts, price=price)


# -- (d) Cloud Scheduler's tick ----------------------------------------------------------------------------


def test_cloud_scheduler_tick_ingests_the_last_closed_candles_and_starts_the_chain(mesh: Mesh) -> None:
    scheduled = time.time() - 90
    ts = last_close(scheduled)
    headers = {  # what Cloud Scheduler's HTTP target sends
        "User-Agent": "Google-Cloud-Scheduler",
        "X-CloudScheduler": "true",
        "X-CloudScheduler-JobName": f"projects/{PROJECT}/locations/europe-west1/jobs/coinswarm-tick",
        "X-CloudScheduler-ScheduleTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(scheduled)),
        "Content-Type": "application/octet-stream",
    }
    first = httpx.post(mesh.urls["tick_ingest"], headers=headers, content=b"", timeout=30)
    assert first.status_code == 200, first.text
    assert first.json() == {"cycle_id": f"cycle-{ts}", "ts": ts, "symbols": ["BTC-USD"]}
    with mesh.store() as store:
        assert store.last_candle_ts("BTC-USD", TF) == ts - TF  # the candle that closed at the scheduled time
    (ready,) = wait_for("the CandlesReady", lambda: mesh.tapped(CANDLES, f"cycle-{ts}"))
    candles = decode(CandlesReady, ready.data).candles
    assert len(candles) == 60 and candles[-1].close_ts == ts  # the warm-up window, up to the last close
    chain_done(mesh, f"cycle-{ts}")  # and the pushes carried it to the end

    again = httpx.post(mesh.urls["tick_ingest"], headers=headers, content=b"", timeout=30)  # Scheduler's retry
    assert again.status_code == 200 and again.json() == {"cycle_id": f"cycle-{ts}", "ts": ts, "symbols": ["BTC-USD"]}

    # ingest's outbox hands on the very same CandlesReady, which the next stage recognises as a repeat
    def both_sent() -> list | None:  # type: ignore[type-arg]
        sent = mesh.tapped(CANDLES, f"cycle-{ts}")
        return sent[:2] if len(sent) >= 2 else None

    first_sent, sent_again = wait_for("the repeated CandlesReady", both_sent)
    assert sent_again.data == first_sent.data
    assert httpx.get(mesh.urls["tick_ingest"], timeout=10).status_code == 405


# -- (e) the manual trade endpoint ------------------------------------------------------------------------


def test_manual_trade_accepts_a_signed_trade_and_refuses_bad_input_with_4xx(mesh: Mesh) -> None:
    url = mesh.urls["manual_trade"]
    with mesh.store() as store:  # a price to trade at: XRP-USD's newest stored candle
        store.put_candles(synthetic_candles("XRP-USD", 3, seed=5, start_ts=last_close() - 3 * TF, start_price=0.5))

    def post(body: bytes, *, signed: bool = True, ts: int | None = None, **headers: str) -> httpx.Response:
        sent = {"Content-Type": "application/json", **headers}
        if signed:
            sent.update(sign(MANUAL_SECRET, "POST", "/", body, int(time.time()) if ts is None else ts))
        return httpx.post(url, content=body, headers=sent, timeout=30)

    now = int(time.time())
    client_id = f"it{uuid.uuid4().hex[:10]}"
    trade = json.dumps(
        {"action": "trade", "symbol": "XRP-USD", "side": "buy", "notional": 50.0, "client_id": client_id}
    ).encode()
    placed = post(trade, ts=now)
    assert placed.status_code == 202, placed.text
    assert placed.json()["client_order_id"] == f"cs-mc-{client_id}" and placed.json()["status"] == "pending"
    repeat = post(trade, ts=now - 1)  # the same trade, signed anew: the same order
    assert repeat.status_code == 200 and repeat.json()["duplicate"] is True

    refused = {
        "unsigned": post(trade, signed=False),
        "replayed": post(trade, ts=now - 1),  # the very request accepted just above
        "bad signature": httpx.post(
            url, content=trade, headers=sign("another-secret-of-enough-bytes", "POST", "/", trade, now), timeout=30
        ),
        "not json": post(b"{not json"),
        "wrong schema": post(b'{"action": "trade", "symbol": "XRP-USD", "side": "hold", "notional": 5}'),
        "both amounts": post(b'{"action": "trade", "symbol": "XRP-USD", "side": "buy", "notional": 5, "quantity": 1}'),
        "unknown symbol": post(b'{"action": "trade", "symbol": "NOPE-USD", "side": "buy", "notional": 50}'),
        "not an object": post(b"[1, 2, 3]"),
        "not utf-8": post(b"\xff\xfe\x00"),
        "text/plain": post(trade, **{"Content-Type": "text/plain"}),
        "too large": post(b"{" + b" " * 10_000 + b"}"),
        "GET": httpx.get(url, timeout=30),
    }
    statuses = {why: r.status_code for why, r in refused.items()}
    assert statuses["unsigned"] == statuses["replayed"] == statuses["bad signature"] == 401
    assert all(400 <= status < 500 for status in statuses.values()), statuses
    assert statuses["not json"] == 400 and statuses["too large"] == 413 and statuses["GET"] == 405
    for reply in refused.values():
        assert set(reply.json()) >= {"error", "detail"} and MANUAL_SECRET not in reply.text


# -- (f) the log lines --------------------------------------------------------------------------------------


def test_log_lines_are_json_share_the_cycle_trace_and_carry_no_secret(mesh: Mesh) -> None:
    cycle = f"it-logs-{uuid.uuid4().hex[:8]}"
    mesh.bus.publish(CANDLES, candles_ready("ADA-USD", cycle, start_price=0.4))
    # a push that can never succeed, with a secret inside: logged at ERROR, redacted, acknowledged
    bad_cycle = f"it-bad-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"cycle_id": bad_cycle, "symbol": VENUE_SECRET, "candles": "none"}).encode()
    bad_id = mesh.bus.publisher.publish(
        mesh.bus.topic_path(CANDLES), body, **{CYCLE_ID_ATTRIBUTE: bad_cycle, TOPIC_ATTRIBUTE: CANDLES}
    ).result(timeout=10)
    chain_done(mesh, cycle)

    def bad_lines() -> list[dict[str, Any]]:
        return [line for line in mesh.lines("agent_scoring") if line.get("message_id") == bad_id]

    (error,) = wait_for("the ERROR line of the malformed message", bad_lines)
    assert error["severity"] == "ERROR" and "acknowledged and dropped" in error["message"]
    assert "not a valid CandlesReady" in error["message"]
    assert error["cycle_id"] == bad_cycle and "***" in error["body_preview"]

    expected = f"projects/{PROJECT}/traces/{trace_id(cycle)}"
    of_cycle = []
    for name in FUNCTIONS:
        text = mesh.log_path(name).read_text() + (mesh.folder / f"{name}.err").read_text()
        for secret in SECRETS:
            assert secret not in text, f"{name} logged a secret"
        for line in mesh.lines(name):
            assert line["severity"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, line
            if line.get("cycle_id"):
                assert line["logging.googleapis.com/trace"].endswith(trace_id(line["cycle_id"]))
            if line.get("cycle_id") == cycle:
                of_cycle.append((name, line["logging.googleapis.com/trace"]))
    assert {name for name, _ in of_cycle} == {"agent_scoring", "committee_vote", "order_placement", "trade_logging"}
    assert {trace for _, trace in of_cycle} == {expected}
    assert len(bad_lines()) == 1  # acknowledged: Pub/Sub did not push it again
