"""A GCP stage whose next stage runs on AWS hands its output on over the signed HTTP push, not Pub/Sub.

`deploy.placement` puts order_placement on GCP; trade_logging stays on AWS. So:

* GCP: `functions/order_placement/gcp.py`, served by the functions-framework CLI (gunicorn, as Cloud
  Functions runs it) on a free loopback port, receives a Pub/Sub push (the body a push subscription
  posts) carrying a DecisionReady. Its PlacementDone goes out through `gcp_common`'s routing, the real
  HttpPushBus inside that process. Its Pub/Sub client would reach an emulator address where nothing
  listens: a publish there would time out and fail the function, so a 200 also says Pub/Sub was unused.
* AWS: `functions/push_receiver/aws.py`'s Lambda handler, in this process, behind a loopback HTTP server
  that turns each request into a Function URL event (`function_url`). It runs trade_logging, whose
  ledger is the one both sides share (one SQLite file, as one deployment's stores are shared).

The cycle id of the decision travels along: in the signed envelope, in the AWS receiver's answer, and
in the GCP function's log line (Cloud Logging's trace)."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("functions_framework", reason="functions-framework is not installed (.[gcp])")
pytest.importorskip("aws_lambda_powertools", reason="aws-lambda-powertools is not installed (.[aws])")

from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.config.settings import Settings
from coinswarm.domain.models import FillRecorded
from coinswarm.http.json_http import HttpRequest, HttpResponse
from coinswarm.http.push_wire import PUSH_SECRET_ENV, read_envelope
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.marketdata.synthetic import synthetic_candles
from coinswarm.observability.logs import trace_id
from coinswarm.stages.ledger import Ledger
from coinswarm.stages.messages import DECISIONS, PLACEMENTS, DecisionReady, encode
from coinswarm.wiring.cloud import container_app, reset_container_app
from decisions import buy_decision, hold_decision
from function_url import function_url
from functions.gcp_common import pushed_topics
from functions.push_receiver import aws as push_aws
from functions.push_receiver.local import serve

ROOT = Path(__file__).resolve().parents[3]
FRAMEWORK = Path(sys.executable).with_name("functions-framework")
PROJECT = "coinswarm-cross"
SECRET = "push-secret-FAKE-cross-3b9d0c7e51a2"
TF = 60
PLACEMENT = {"order_placement": "gcp"}  # its decisions come from Pub/Sub; trade_logging stays on AWS
START_TIMEOUT_S = 40.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(what: str, check: Callable[[], bool], timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:g} s for {what}")
        time.sleep(0.1)


@dataclass
class Aws:
    """The AWS push receiver, and every push it was sent with its answer."""

    url: str
    seen: list[tuple[HttpRequest, HttpResponse]] = field(default_factory=list)


@dataclass
class Deployment:
    folder: Path
    state_path: Path
    gcp_url: str
    aws: Aws

    def pubsub_push(self, message: DecisionReady, message_id: str) -> httpx.Response:
        """POST what a Pub/Sub push subscription posts to order_placement."""
        body = {
            "message": {
                "data": base64.b64encode(encode(message).encode()).decode(),
                "attributes": {"cycle_id": message.cycle_id, "coinswarm_topic": DECISIONS},
                "messageId": message_id,
                "publishTime": "2026-01-02T03:04:05.000Z",
            },
            "subscription": f"projects/{PROJECT}/subscriptions/cs-decisions-order-placement",
        }
        return httpx.post(self.gcp_url, json=body, timeout=60)

    def gcp_lines(self) -> list[dict[str, Any]]:
        text = (self.folder / "gcp.log").read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def fills(self) -> list[str]:
        with SqliteStore(self.state_path) as store:
            ledger = Ledger(store, "account:paper")
            fills = [e.payload.fill for e in ledger.events() if isinstance(e.payload, FillRecorded)]
            report = ledger.verify()
        assert report.ok, report.problems
        return [f.client_order_id for f in fills]


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    if not FRAMEWORK.exists():
        pytest.skip(f"the functions-framework CLI is not installed beside {sys.executable} (.[gcp])")
    state_path = tmp_path / "state.db"
    aws_port, gcp_port, nobody = free_port(), free_port(), free_port()

    # AWS, in this process: trade_logging's side, reached by the push.
    monkeypatch.setenv(PUSH_SECRET_ENV, SECRET)
    settings = Settings.model_validate(
        {"symbols": ["BTC-USD"], "store": {"path": str(state_path)}, "deploy": {"placement": PLACEMENT}}
    )
    series = {"BTC-USD": synthetic_candles("BTC-USD", 10, seed=5, start_ts=int(time.time()) // TF * TF - 10 * TF)}
    reset_container_app()
    container_app(settings, market=ReplayMarketData(series, label="test"), store=SqliteStore(state_path))
    aws = Aws(f"http://127.0.0.1:{aws_port}/push")
    lambda_behind_url = function_url(push_aws.handler)

    def handle(request: HttpRequest) -> HttpResponse:
        reply = lambda_behind_url(request)
        aws.seen.append((request, reply))
        return reply

    server = serve(handle, port=aws_port)

    # GCP: order_placement in its own process, as Cloud Functions runs it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_") and k != "PYTHONPATH"}
    env.update(
        PYTHONUNBUFFERED="1",
        PUBSUB_EMULATOR_HOST=f"127.0.0.1:{nobody}",  # nothing listens: a publish would fail the function
        COINSWARM_PUSH_SECRET=SECRET,
        COINSWARM_STORE__PATH=str(state_path),
        COINSWARM_MARKET__SOURCE="synthetic",
        COINSWARM_SYMBOLS="BTC-USD",
        COINSWARM_GCP__PROJECT=PROJECT,
        COINSWARM_DEPLOY__PLACEMENT=json.dumps(PLACEMENT),
        COINSWARM_PUSH__URLS=json.dumps({PLACEMENTS: aws.url}),
    )
    command = [
        str(FRAMEWORK),
        *("--source", str(ROOT / "functions/order_placement/gcp.py"), "--target", "order_placement"),
        *("--signature-type", "cloudevent", "--host", "127.0.0.1", "--port", str(gcp_port)),
    ]
    with (tmp_path / "gcp.log").open("wb") as out, (tmp_path / "gcp.err").open("wb") as err:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=out, stderr=err, start_new_session=True)
    gcp_url = f"http://127.0.0.1:{gcp_port}/"

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"order_placement exited: {(tmp_path / 'gcp.err').read_text()[-3000:]}")
        try:
            httpx.get(gcp_url, timeout=1.0)
        except httpx.TransportError:
            return False
        return True

    try:
        wait_until("order_placement on GCP to answer", answers)
        yield Deployment(tmp_path, state_path, gcp_url, aws)
    finally:
        os.killpg(process.pid, 15)
        process.wait(15)
        server.shutdown()
        server.server_close()
        reset_container_app()


def test_placements_cross_from_gcp_to_aws_over_signed_http_with_the_cycle_id(deployment: Deployment) -> None:
    ts = int(time.time()) // TF * TF
    cycle = f"cycle-cross-{uuid.uuid4().hex[:8]}"
    intent_id = f"cs-cross-{uuid.uuid4().hex[:12]}"
    buy = buy_decision("BTC-USD", cycle, ts, intent_id=intent_id, notional=200, price=100.0, settle_ts=ts - TF)

    reply = deployment.pubsub_push(buy, "1001")
    assert reply.status_code == 200, (reply.text, (deployment.folder / "gcp.err").read_text()[-3000:])
    ((request, answer),) = deployment.aws.seen  # one signed POST crossed to AWS, and AWS took it
    pushed = read_envelope(request.body)
    assert request.path == "/push" and "X-Coinswarm-Signature" in request.headers
    assert (pushed.topic, pushed.cycle_id, pushed.message["cycle_id"]) == (PLACEMENTS, cycle, cycle)
    assert answer.status == 200 and answer.body["cycle_id"] == cycle
    assert deployment.fills() == []  # the order waits for the next price

    settle = hold_decision("BTC-USD", f"cycle-cross-settle-{uuid.uuid4().hex[:8]}", ts + TF, price=101.0)
    assert deployment.pubsub_push(settle, "1002").status_code == 200
    request, answer = deployment.aws.seen[-1]
    assert read_envelope(request.body).cycle_id == settle.cycle_id == answer.body["cycle_id"]
    assert deployment.fills() == [intent_id]  # trade_logging on AWS appended the fill placed on GCP

    handled = [line for line in deployment.gcp_lines() if "handled decisions message" in line["message"]]
    assert [line["cycle_id"] for line in handled] == [cycle, settle.cycle_id]
    assert handled[0]["logging.googleapis.com/trace"] == f"projects/{PROJECT}/traces/{trace_id(cycle)}"
    assert all(line["published"] == [PLACEMENTS] for line in handled)
    assert SECRET not in (deployment.folder / "gcp.log").read_text() + (deployment.folder / "gcp.err").read_text()


@pytest.mark.parametrize(
    ("placement", "pushed"),
    [
        ({"order_placement": "gcp"}, {"candles", "scores", "placements"}),  # their consumers stay on AWS
        ({name: "gcp" for name in ("agent_scoring", "committee_vote", "trade_logging")}, {"decisions"}),
        ({name: "gcp" for name in ("agent_scoring", "committee_vote", "order_placement", "trade_logging")}, set()),
        ({}, set()),  # the default (all on AWS) never reached a function on GCP: Pub/Sub, as on Google alone
    ],
)
def test_which_topics_a_gcp_function_pushes(placement: dict[str, str], pushed: set[str]) -> None:
    settings = Settings.model_validate({"deploy": {"placement": placement}} if placement else {})
    assert pushed_topics(settings.deploy.placement) == pushed
