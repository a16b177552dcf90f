"""The signed HTTP push between clouds, for real: committee_vote's decisions pushed to order_placement on
GCP, whose placements are pushed on to trade_logging on AWS.

* GCP: `functions/push_receiver/gcp.py` served by the functions-framework CLI (gunicorn, as Cloud
  Functions runs it) on a free loopback port, twice (two instances of one deployment), with
  `deploy.placement` putting order_placement on GCP. Its placements go out through the real
  HttpPushBus inside that process.
* AWS: `functions/push_receiver/aws.py`'s Lambda handler, in this process, behind a standard-library
  HTTP server that turns each request into a Function URL event (the shape of events/*.json) and the
  handler's answer back into HTTP, as the Function URL front end does.
* Every sender here is the real HttpPushBus over httpx. All three receivers share one SQLite file: the
  state (the paper book), the ledger and the coordination store (placement claims, the replay cache).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("functions_framework", reason="functions-framework is not installed (.[gcp])")
pytest.importorskip("aws_lambda_powertools", reason="aws-lambda-powertools is not installed (.[aws])")

from coinswarm.adapters.http_push_bus import HttpPushBus
from coinswarm.adapters.retry import Backoff
from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.config.settings import Settings
from coinswarm.domain.models import FillRecorded
from coinswarm.errors import PermanentBusError, TransientBusError
from coinswarm.http.push_wire import PUSH_SECRET_ENV, envelope
from coinswarm.http.signing import sign
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.stages.ledger import Ledger
from coinswarm.stages.messages import DECISIONS, PLACEMENTS, DecisionReady, PlacementDone
from coinswarm.stages.outbox import IN_PROGRESS_TTL_S, digest
from coinswarm.wiring.cloud import container_app, reset_container_app
from decisions import buy_decision, hold_decision
from function_url import function_url
from functions.push_receiver import aws as push_aws
from functions.push_receiver.local import serve

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORK = Path(sys.executable).with_name("functions-framework")
SECRET = "push-secret-FAKE-7d2c9e41b05a38f6"
OLD_SECRET = "push-secret-FAKE-retired-0a1b2c3d"
VENUE_SECRET = "venue-secret-FAKE-5e6f7a8b9c0d"
TF = 60
PLACEMENT = {"order_placement": "gcp"}  # committee_vote and trade_logging stay on AWS
START_TIMEOUT_S = 40.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def last_close() -> int:
    return int(time.time() // TF * TF)


def wait_until(what: str, check: Callable[[], bool], timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:g} s for {what}")
        time.sleep(0.1)


# -- the deployment ---------------------------------------------------------------------------------------


@dataclass
class Clouds:
    folder: Path
    state_path: Path
    aws_url: str
    gcp_urls: list[str]
    aws_store: SqliteStore

    def bus(self, topic_url: str, topic: str = DECISIONS, **kwargs: Any) -> HttpPushBus:
        """A sender like committee_vote's on AWS: the real push bus, quick retries."""
        kwargs.setdefault("backoff", Backoff(attempts=8, base_s=0.05, cap_s=0.5))
        return HttpPushBus({topic: topic_url}, [SECRET], read_timeout_s=30.0, **kwargs)

    def store(self) -> SqliteStore:
        return SqliteStore(self.state_path)

    def gcp_log(self, i: int) -> str:
        return (self.folder / f"gcp{i}.log").read_text() + (self.folder / f"gcp{i}.err").read_text()


def _serve_gcp(i: int, port: int, env: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    with (folder / f"gcp{i}.log").open("wb") as out, (folder / f"gcp{i}.err").open("wb") as err:
        return subprocess.Popen(
            [
                str(FRAMEWORK),
                *("--source", str(ROOT / "functions/push_receiver/gcp.py"), "--target", "push_receiver"),
                *("--signature-type", "http", "--host", "127.0.0.1", "--port", str(port)),
            ],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def _answers(url: str, process: subprocess.Popen[bytes], err: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"{url}: the function exited with {process.returncode}:\n{err.read_text()[-3000:]}")
    try:
        httpx.get(url, timeout=1.0)
    except httpx.TransportError:
        return False
    return True


@pytest.fixture(scope="module")
def clouds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clouds]:
    if not FRAMEWORK.exists():
        pytest.skip(f"the functions-framework CLI is not installed beside {sys.executable} (.[gcp])")
    folder = tmp_path_factory.mktemp("push")
    state_path = folder / "state.db"
    aws_port, gcp_ports = free_port(), [free_port(), free_port()]
    aws_url = f"http://127.0.0.1:{aws_port}/"
    gcp_urls = [f"http://127.0.0.1:{port}/" for port in gcp_ports]
    venue = {"name": "coinbase", "fee_bps": 60, "api_key": "venue-key-FAKE", "api_secret": VENUE_SECRET}

    # AWS, in this process: trade_logging's side, consuming placements.
    settings = Settings.model_validate(
        {
            "symbols": ["BTC-USD"],
            "venues": [venue],
            "store": {"path": str(state_path)},
            "deploy": {"placement": PLACEMENT},
            "push": {"urls": {DECISIONS: gcp_urls[0]}},
        }
    )
    aws_store = SqliteStore(state_path, busy_timeout_ms=300)  # a locked file is a quick 503 here
    series = {"BTC-USD": synthetic_candles("BTC-USD", 10, seed=3, start_ts=last_close() - 10 * TF)}
    saved_secret = os.environ.get(PUSH_SECRET_ENV)
    os.environ[PUSH_SECRET_ENV] = f"{SECRET},{OLD_SECRET}"  # a rotation: the first signs
    reset_container_app()
    container_app(settings, market=ReplayMarketData(series, label="test"), store=aws_store)
    aws_server = serve(function_url(push_aws.handler), port=aws_port)

    # GCP, two instances of one deployment: order_placement's side, consuming decisions.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_")}
    env.update(
        PYTHONUNBUFFERED="1",
        COINSWARM_PUSH_SECRET=f"{SECRET},{OLD_SECRET}",
        COINSWARM_STORE__PATH=str(state_path),
        COINSWARM_MARKET__SOURCE="synthetic",
        COINSWARM_MARKET__WARMUP_CANDLES="30",
        COINSWARM_SYMBOLS="BTC-USD",
        COINSWARM_VENUES=json.dumps([venue]),
        COINSWARM_DEPLOY__PLACEMENT=json.dumps(PLACEMENT),
        COINSWARM_PUSH__URLS=json.dumps({PLACEMENTS: aws_url}),
        COINSWARM_PUSH__BACKOFF_S="0.05",
        COINSWARM_PUSH__MAX_BACKOFF_S="0.5",
        COINSWARM_PUSH__ATTEMPTS="8",
    )
    processes = [_serve_gcp(i, port, env, folder) for i, port in enumerate(gcp_ports)]
    try:
        for i, (url, process) in enumerate(zip(gcp_urls, processes, strict=True)):
            wait_until(f"gcp{i} to answer", lambda u=url, p=process, n=i: _answers(u, p, folder / f"gcp{n}.err"))
        yield Clouds(folder, state_path, aws_url, gcp_urls, aws_store)
    finally:
        for process in processes:
            os.killpg(process.pid, 15)
        for process in processes:
            process.wait(15)
        aws_server.shutdown()
        aws_server.server_close()
        reset_container_app()
        if saved_secret is None:
            os.environ.pop(PUSH_SECRET_ENV, None)
        else:
            os.environ[PUSH_SECRET_ENV] = saved_secret


# -- messages ---------------------------------------------------------------------------------------------


def buy(symbol: str, cycle: str, ts: int) -> DecisionReady:
    intent_id = f"cs-push-{uuid.uuid4().hex[:12]}"
    return buy_decision(
        symbol, cycle, ts, intent_id=intent_id, notional=200, price=100.0, settle_ts=ts - TF, reason="push test"
    )


def hold(symbol: str, cycle: str, ts: int, *, price: float) -> DecisionReady:
    return hold_decision(symbol, cycle, ts, price=price)


def intent_of(message: DecisionReady) -> str:
    intent = message.steps[0].intent
    assert intent is not None
    return intent.intent_id


def orders_of(clouds: Clouds, symbol: str) -> dict[str, dict[str, Any]]:
    """The paper broker's orders of `symbol`: what the broker was asked to place."""
    with clouds.store() as store:
        book = store.get("paper:paper:book")
    orders = book.value["orders"] if book else {}
    return {cid: o for cid, o in orders.items() if o["symbol"] == symbol}


def fills_of(clouds: Clouds, symbol: str) -> list[str]:
    with clouds.store() as store:
        ledger = Ledger(store, "account:paper")
        fills = [e.payload.fill for e in ledger.events() if isinstance(e.payload, FillRecorded)]
        report = ledger.verify()
    assert report.ok, report.problems
    return [f.client_order_id for f in fills if f.symbol == symbol]


# -- across the clouds ------------------------------------------------------------------------------------


def test_a_decision_crosses_to_gcp_and_its_fill_comes_back_to_the_ledger_on_aws(clouds: Clouds) -> None:
    ts = last_close()
    message = buy("BTC-USD", f"push-one-{uuid.uuid4().hex[:8]}", ts)
    bus = clouds.bus(clouds.gcp_urls[0])
    bus.publish(DECISIONS, message)  # GCP placed it and pushed its placements to AWS before answering
    assert bus.sent == 1 and bus.retried == 0
    assert list(orders_of(clouds, "BTC-USD")) == [intent_of(message)]
    assert fills_of(clouds, "BTC-USD") == []  # pending: it fills at the next price observed

    bus.publish(DECISIONS, hold("BTC-USD", f"push-one-settle-{uuid.uuid4().hex[:8]}", ts + TF, price=101.0))
    assert orders_of(clouds, "BTC-USD")[intent_of(message)]["status"] == "filled"
    assert fills_of(clouds, "BTC-USD") == [intent_of(message)]  # trade_logging on AWS appended it


def test_the_same_decision_pushed_fifty_times_in_a_row_places_one_order_and_logs_one_fill(clouds: Clouds) -> None:
    ts = last_close()
    message = buy("ETH-USD", f"push-seq-{uuid.uuid4().hex[:8]}", ts)
    bus = clouds.bus(clouds.gcp_urls[0])
    for i in range(50):  # a sender retrying after lost answers, across both instances
        bus.publish(DECISIONS, message) if i % 2 == 0 else clouds.bus(clouds.gcp_urls[1]).publish(DECISIONS, message)
    assert list(orders_of(clouds, "ETH-USD")) == [intent_of(message)]
    settle = hold("ETH-USD", f"push-seq-settle-{uuid.uuid4().hex[:8]}", ts + TF, price=102.0)
    for _ in range(3):
        bus.publish(DECISIONS, settle)
    assert fills_of(clouds, "ETH-USD") == [intent_of(message)]


def test_the_same_decision_pushed_by_fifty_threads_at_once_places_one_order_and_logs_one_fill(clouds: Clouds) -> None:
    ts = last_close()
    message = buy("SOL-USD", f"push-par-{uuid.uuid4().hex[:8]}", ts)
    buses = [clouds.bus(url) for url in clouds.gcp_urls]
    errors: list[BaseException] = []
    start = threading.Barrier(50)

    def push(i: int) -> None:
        start.wait(30)
        try:
            buses[i % 2].publish(DECISIONS, message)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:3]
    assert sum(b.sent for b in buses) == 50  # every push answered 2xx, retries of 503s (busy, in progress) included
    assert list(orders_of(clouds, "SOL-USD")) == [intent_of(message)]
    buses[0].publish(DECISIONS, hold("SOL-USD", f"push-par-settle-{uuid.uuid4().hex[:8]}", ts + TF, price=99.0))
    assert fills_of(clouds, "SOL-USD") == [intent_of(message)]


# -- the replay defence and bad input ---------------------------------------------------------------------


def signed(body: bytes, *, secret: str = SECRET, ts: int | None = None, path: str = "/") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        **sign(secret, "POST", path, body, int(time.time()) if ts is None else ts),
    }


def test_a_replayed_request_is_refused_by_every_instance_sharing_the_store(clouds: Clouds) -> None:
    message = hold("ADA-USD", f"push-replay-{uuid.uuid4().hex[:8]}", last_close(), price=0.5)
    body = envelope(DECISIONS, message)
    headers = signed(body)
    first = httpx.post(clouds.gcp_urls[0], content=body, headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    assert first.json()["published"] == [PLACEMENTS]
    for url in (clouds.gcp_urls[1], clouds.gcp_urls[0]):  # another container, then the same one
        again = httpx.post(url, content=body, headers=headers, timeout=30)
        assert again.status_code == 401, again.text
        assert again.json()["error"] == "unauthorized" and again.json()["detail"].startswith("replayed request")
    fresh = envelope(DECISIONS, message)  # a sender's retry of the message: a new push id, a new request
    assert httpx.post(clouds.gcp_urls[1], content=fresh, headers=signed(fresh), timeout=30).status_code == 200


def test_bad_pushes_get_a_json_4xx_that_says_what_is_wrong_and_place_nothing(clouds: Clouds) -> None:
    url = clouds.gcp_urls[0]
    message = buy("XRP-USD", f"push-bad-{uuid.uuid4().hex[:8]}", last_close())
    body = envelope(DECISIONS, message)
    now = int(time.time())
    tampered = body.replace(b'"notional":200.0', b'"notional":900.0')
    assert tampered != body
    wrong_topic = envelope(PLACEMENTS, PlacementDone(cycle_id="c", symbol="XRP-USD", mark_price=1.0))
    not_a_message = body.replace(b'"symbol":"XRP-USD","steps"', b'"symbol":"XRP-USD","stepz"')
    cases: dict[str, tuple[int, str, httpx.Response]] = {
        "tampered body": (401, "bad signature", httpx.post(url, content=tampered, headers=signed(body), timeout=30)),
        "wrong secret": (
            401,
            "bad signature",
            httpx.post(url, content=body, headers=signed(body, secret="some-other-secret-FAKE-123"), timeout=30),
        ),
        "stale timestamp": (
            401,
            "stale timestamp",
            httpx.post(url, content=body, headers=signed(body, ts=now - 301), timeout=30),
        ),
        "future timestamp": (
            401,
            "future timestamp",
            httpx.post(url, content=body, headers=signed(body, ts=now + 400), timeout=30),
        ),
        "another path": (
            401,
            "bad signature",
            httpx.post(url, content=body, headers=signed(body, path="/x"), timeout=30),
        ),
        "no signature": (
            401,
            "missing signature",
            httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=30),
        ),
        "no timestamp": (
            401,
            "missing timestamp",
            httpx.post(
                url,
                content=body,
                headers={k: v for k, v in signed(body).items() if k != "X-Coinswarm-Timestamp"},
                timeout=30,
            ),
        ),
        "oversized": (
            413,
            "body_too_large",
            httpx.post(url, content=b"{" + b" " * 300_000 + b"}", headers=signed(b"{}"), timeout=30),
        ),
        "GET": (405, "method_not_allowed", httpx.get(url, timeout=30)),
        "not JSON": (
            415,
            "unsupported_media_type",
            httpx.post(url, content=body, headers={**signed(body), "Content-Type": "text/plain"}, timeout=30),
        ),
        "not an envelope": (
            400,
            "invalid_envelope",
            httpx.post(url, content=b'{"topic": 1}', headers=signed(b'{"topic": 1}'), timeout=30),
        ),
        "not a message": (
            422,
            "invalid_message",
            httpx.post(url, content=not_a_message, headers=signed(not_a_message), timeout=30),
        ),
        "topic not consumed here": (
            404,
            "topic_not_consumed_here",
            httpx.post(url, content=wrong_topic, headers=signed(wrong_topic), timeout=30),
        ),
    }
    for name, (status, reason, response) in cases.items():
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"].startswith("application/json"), name
        answer = response.json()
        assert set(answer) >= {"error", "detail"}, name
        assert reason in (answer["error"], answer["detail"].split(":")[0]), (name, answer)
    assert orders_of(clouds, "XRP-USD") == {}

    # the sender raises at once on a 4xx, with the receiver's reason, and does not retry
    bus = clouds.bus(clouds.gcp_urls[0], topic=PLACEMENTS)
    with pytest.raises(PermanentBusError, match="HTTP 404: topic_not_consumed_here") as refused:
        bus.publish(PLACEMENTS, PlacementDone(cycle_id="c", symbol="XRP-USD", mark_price=1.0))
    assert bus.retried == 0 and SECRET not in str(refused.value)
    wrong = HttpPushBus({DECISIONS: url}, ["some-other-secret-FAKE-123"])
    with pytest.raises(PermanentBusError, match="HTTP 401: unauthorized: bad signature"):
        wrong.publish(DECISIONS, message)
    assert orders_of(clouds, "XRP-USD") == {}
    # an old secret still verifies during a rotation
    rotated = HttpPushBus({DECISIONS: url}, [OLD_SECRET])
    rotated.publish(DECISIONS, hold("XRP-USD", message.cycle_id, last_close(), price=0.5))
    assert rotated.sent == 1


# -- retries ----------------------------------------------------------------------------------------------


def test_the_sender_retries_a_503_from_a_busy_store_then_succeeds(clouds: Clouds) -> None:
    lock = sqlite3.connect(clouds.state_path, timeout=5, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the file: the receiver's replay claim waits, then 503
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the backoff: the other writer finishes meanwhile
        waits.append(seconds)
        if lock.in_transaction:
            lock.execute("COMMIT")

    bus = HttpPushBus({PLACEMENTS: clouds.aws_url}, [SECRET], sleep=sleep, backoff=Backoff(3, 0.05, 2.0))
    try:
        bus.publish(
            PLACEMENTS, PlacementDone(cycle_id=f"push-503-{uuid.uuid4().hex[:8]}", symbol="DOT-USD", mark_price=5.0)
        )
    finally:
        if lock.in_transaction:
            lock.execute("COMMIT")
        lock.close()
    assert bus.retried == 1 and bus.sent == 1
    assert waits and waits[0] >= 1.0  # the receiver's Retry-After: 1 was honoured


def test_a_push_that_meets_a_killed_workers_claim_is_refused_503_and_retried_never_acknowledged(clouds: Clouds) -> None:
    """A worker of the GCP deployment was killed while placing this decision: its claim on the message is
    in progress in the shared store. Each push of the message meanwhile answers 503 in_progress (logged as a
    warning there); the sender retries, then gives up transiently, so that its own trigger redelivers the
    message it was handling later. Once the claim is gone, the next push places the order, once."""
    ts = last_close()
    message = buy("LTC-USD", f"push-killed-{uuid.uuid4().hex[:8]}", ts)
    key = f"placed:{message.cycle_id}:{message.symbol}:{digest(message)}"  # the outbox's claim on it
    with clouds.store() as store:
        assert (
            store.begin(key, owner="killed-worker", now=int(time.time()), in_progress_ttl_s=IN_PROGRESS_TTL_S) is None
        )
    body = envelope(DECISIONS, message)
    refused = httpx.post(clouds.gcp_urls[1], content=body, headers=signed(body), timeout=30)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "in_progress" and refused.headers["Retry-After"] == "1"
    waits: list[float] = []
    bus = clouds.bus(clouds.gcp_urls[0], backoff=Backoff(3, 0.01, 2.0), sleep=waits.append)
    with pytest.raises(TransientBusError, match="gave up after 3 attempts; last: HTTP 503: in_progress"):
        bus.publish(DECISIONS, message)
    assert bus.retried == 2 and all(w >= 1.0 for w in waits)  # the receiver's Retry-After honoured
    assert orders_of(clouds, "LTC-USD") == {}
    # the receivers serve the module's other tests too: only this message's refusals count, one per refused
    # push (the direct one and the bus's three attempts)
    refusal = f"{key}: another delivery holds this claim"
    logged = [
        json.loads(line)
        for line in clouds.gcp_log(0).splitlines() + clouds.gcp_log(1).splitlines()
        if line.startswith("{") and refusal in line
    ]
    assert len(logged) == 4 and {line["severity"] for line in logged} == {"WARNING"}, logged
    assert all(line.get("cycle_id") == message.cycle_id and "exception" not in line for line in logged), logged

    with clouds.store() as store:  # the claim's expiry, played by dropping it: the servers run on the real clock
        store.abandon(key, owner="killed-worker")
    bus.publish(DECISIONS, message)
    assert list(orders_of(clouds, "LTC-USD")) == [intent_of(message)]
    bus.publish(DECISIONS, message)  # a later repeat: the kept result, nothing placed again
    assert list(orders_of(clouds, "LTC-USD")) == [intent_of(message)]


def test_a_receiver_that_never_answers_times_out_each_attempt_and_the_sender_gives_up_transiently() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections complete in the kernel's backlog; nothing ever answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
    waits: list[float] = []
    bus = HttpPushBus(
        {DECISIONS: url}, [SECRET], read_timeout_s=0.2, backoff=Backoff(3, 0.01, 0.05), sleep=waits.append
    )
    try:
        started = time.monotonic()
        with pytest.raises(TransientBusError, match="gave up after 3 attempts; last: timed out"):
            bus.publish(DECISIONS, hold("BTC-USD", "c-timeout", last_close(), price=1.0))
        assert time.monotonic() - started < 10
    finally:
        silent.close()
    assert len(waits) == 2 and all(0 <= w <= 0.05 for w in waits)


def test_an_unreachable_receiver_is_transient_and_a_missing_url_permanent() -> None:
    closed = free_port()  # nothing listens there
    bus = HttpPushBus(
        {DECISIONS: f"http://127.0.0.1:{closed}/"}, [SECRET], backoff=Backoff(2, 0.01, 0.01), sleep=lambda s: None
    )
    with pytest.raises(TransientBusError, match="could not connect"):
        bus.publish(DECISIONS, hold("BTC-USD", "c-closed", last_close(), price=1.0))
    with pytest.raises(PermanentBusError, match=r"set push\.urls\.scores"):
        bus.publish("scores", hold("BTC-USD", "c-none", last_close(), price=1.0))


# -- secrets ----------------------------------------------------------------------------------------------


def test_no_secret_appears_in_any_log(
    clouds: Clouds, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    message = buy("LINK-USD", f"push-logs-{uuid.uuid4().hex[:8]}", last_close())
    bus = clouds.bus(clouds.gcp_urls[0])
    bus.publish(DECISIONS, message)
    body = envelope(DECISIONS, message)
    httpx.post(clouds.gcp_urls[0], content=body, headers=signed(body, secret="wrong-secret-FAKE-00000"), timeout=30)
    bus_aws = clouds.bus(clouds.aws_url, topic=PLACEMENTS)
    bus_aws.publish(PLACEMENTS, PlacementDone(cycle_id=message.cycle_id, symbol="LINK-USD", mark_price=1.0))
    with pytest.raises(PermanentBusError):
        clouds.bus(clouds.aws_url).publish(DECISIONS, message)  # AWS does not consume decisions here
    out, err = capfd.readouterr()
    logged = caplog.text + out + err + clouds.gcp_log(0) + clouds.gcp_log(1)
    assert message.cycle_id in clouds.gcp_log(0)  # the logs were captured, and name the push
    assert "unauthorized" in logged or "bad signature" in logged
    for secret in (SECRET, OLD_SECRET, VENUE_SECRET):
        assert secret not in logged
    assert SECRET not in repr(bus) and SECRET not in repr(push_aws.function.built(push_aws.push_receiver).auth)
