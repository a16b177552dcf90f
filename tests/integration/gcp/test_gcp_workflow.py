"""The cycle under `deploy.chain = "workflow"` on Google Cloud: the five cycle functions served over HTTP
by the functions-framework CLI (gunicorn, as Cloud Functions runs them), each POSTed the JSON step that
workflows/gcp/cycle.yaml's `run_stage` POSTs (`{"workflow": true, "messages": <the previous step's
messages>}`; tick_ingest `{"workflow": true, "time": ...}`), answering JSON: 200 with the messages it
would have published, 400 for a payload that is not the contract, 503 while another delivery holds a
message's claim. State: one SQLite file all the functions open (as in test_gcp_mesh). Pub/Sub points at
a port where nothing listens: a function that tried to publish would fail the step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("functions_framework", reason="functions-framework is not installed (.[gcp])")

from test_gcp_mesh import FRAMEWORK, ROOT, _answers, _stop_all, free_port, wait_for

from coinswarm.adapters.sqlite_store import SqliteStore
from coinswarm.domain.models import Action, FillRecorded
from coinswarm.stages.ledger import Ledger
from coinswarm.stages.messages import CandlesReady, DecidedStep, DecisionReady, decode, encode
from coinswarm.stages.outbox import digest

CYCLE = ("tick_ingest", "agent_scoring", "committee_vote", "order_placement", "trade_logging")
SYMBOLS = ("BTC-USD", "ETH-USD")
THRESHOLD = 0.3
TF = 60
START_TIMEOUT_S = 40.0


@dataclass
class Served:
    urls: dict[str, str]
    state_path: Path
    folder: Path

    def step(self, function: str, body: Any) -> httpx.Response:
        """What `run_stage` does: an HTTP POST of the step's JSON body."""
        return httpx.post(self.urls[function], json=body, timeout=60)

    def store(self) -> SqliteStore:
        return SqliteStore(self.state_path)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not FRAMEWORK.exists():
        pytest.skip(f"the functions-framework CLI is not installed beside {sys.executable} (.[gcp])")
    folder = tmp_path_factory.mktemp("gcp-workflow")
    state_path = folder / "state.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_")}
    env.update(
        PUBSUB_EMULATOR_HOST=f"127.0.0.1:{free_port()}",  # nothing listens: publishing would fail
        PYTHONUNBUFFERED="1",
        COINSWARM_GCP__PROJECT="coinswarm-wf",
        COINSWARM_GCP__COLLECTION_PREFIX=f"wf{uuid.uuid4().hex[:8]}",
        COINSWARM_STORE__PATH=str(state_path),
        COINSWARM_MARKET__SOURCE="synthetic",
        COINSWARM_MARKET__WARMUP_CANDLES="60",
        COINSWARM_SYMBOLS=",".join(SYMBOLS),
        COINSWARM_COMMITTEE__THRESHOLD=str(THRESHOLD),
        COINSWARM_COMMITTEE__QUORUM="1",
        COINSWARM_DEPLOY__CHAIN="workflow",
    )
    ports = {name: free_port() for name in CYCLE}
    urls = {name: f"http://127.0.0.1:{port}/" for name, port in ports.items()}
    processes = []
    try:
        for name in CYCLE:
            with (folder / f"{name}.log").open("wb") as out, (folder / f"{name}.err").open("wb") as err:
                process = subprocess.Popen(
                    [
                        *(str(FRAMEWORK), "--source", str(ROOT / "functions" / name / "gcp.py"), "--target", name),
                        *("--host", "127.0.0.1", "--port", str(ports[name])),
                    ],
                    env=env,
                    cwd=folder,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            processes.append(process)
            wait_for(
                f"{name} to answer",
                lambda u=urls[name], p=process, e=folder / f"{name}.err": _answers(u, p, e),
                START_TIMEOUT_S,
            )
        yield Served(urls, state_path, folder)
    finally:
        _stop_all(processes)


def rfc3339(ts: int) -> str:
    """`time.format(sys.now())` as Workflows writes it: microseconds, Z."""
    return datetime.fromtimestamp(ts + 2.5, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def run_cycle(served: Served, ts: int) -> dict[str, Any]:
    """cycle.yaml's steps: ingest, score, vote, the switch on confidence, then place and log."""
    answers: dict[str, Any] = {}
    reply = served.step("tick_ingest", {"workflow": True, "time": rfc3339(ts)})
    assert reply.status_code == 200, reply.text
    answers["ingest"] = reply.json()
    for name, function, before in (
        ("score", "agent_scoring", "ingest"),
        ("vote", "committee_vote", "score"),
    ):
        reply = served.step(function, {"workflow": True, "messages": answers[before]["messages"]})
        assert reply.status_code == 200, reply.text
        answers[name] = reply.json()
    if answers["vote"]["confidence"] >= answers["vote"]["threshold"]:
        for name, function, before in (("place", "order_placement", "vote"), ("logged", "trade_logging", "place")):
            reply = served.step(function, {"workflow": True, "messages": answers[before]["messages"]})
            assert reply.status_code == 200, reply.text
            answers[name] = reply.json()
    return answers


def test_the_functions_answer_the_workflows_steps_through_a_whole_cycle(served: Served) -> None:
    now = int(time.time()) // TF * TF
    placed = False
    for ts in range(now - 8 * TF, now + 1, TF):
        answers = run_cycle(served, ts)
        candles = [decode(CandlesReady, json.dumps(m)) for m in answers["ingest"]["messages"]]
        assert sorted(c.symbol for c in candles) == sorted(SYMBOLS)
        assert {c.cycle_id for c in candles} == {f"cycle-{ts}"}
        assert len(answers["score"]["messages"]) == len(answers["vote"]["messages"]) == len(SYMBOLS)
        assert answers["vote"]["threshold"] == THRESHOLD
        highest = max(step["confidence"] for m in answers["vote"]["messages"] for step in m["steps"])
        assert answers["vote"]["confidence"] >= highest
        if "place" in answers:
            assert len(answers["place"]["messages"]) == len(SYMBOLS)  # GCP hands on every PlacementDone
            placed = placed or any(m["orders"] for m in answers["place"]["messages"])
    assert placed, "no confident cycle placed an order"
    ledger = Ledger(served.store(), "ledger")
    assert ledger.verify().ok
    fills = [e.payload for e in ledger.events() if isinstance(e.payload, FillRecorded)]
    assert all(f.fill.symbol in SYMBOLS for f in fills)


def test_a_step_the_contract_does_not_know_is_refused_with_400(served: Served) -> None:
    cases = [
        ("agent_scoring", {"workflow": True}, "missing: messages"),
        (
            "committee_vote",
            {"workflow": True, "messages": [{"cycle_id": "c"}]},
            "messages[0] is not a valid ScoresReady",
        ),
        ("tick_ingest", {"workflow": True, "time": "soon"}, "not an RFC 3339 timestamp"),
    ]
    for function, body, says in cases:
        reply = served.step(function, body)
        assert reply.status_code == 400, (function, reply.text)
        assert says in reply.json()["detail"]
    # neither a workflow's step nor a push: functions-framework's own answer to what it cannot read
    assert httpx.post(served.urls["order_placement"], json={"hello": 1}, timeout=10).status_code == 400


def test_a_step_whose_claim_another_delivery_holds_answers_503_until_it_is_free(served: Served) -> None:
    now = int(time.time()) // TF * TF
    hold = DecisionReady(
        cycle_id=f"cycle-busy-{uuid.uuid4().hex[:6]}",
        symbol="BTC-USD",
        steps=(DecidedStep(now, Action.HOLD, 0.1, 100.0, now, 100.0),),
    )
    key = f"placed:{hold.cycle_id}:{hold.symbol}:{digest(hold)}"  # the placement stage's claim
    store = served.store()
    assert store.begin(key, owner="another-worker", now=int(time.time()), in_progress_ttl_s=60) is None
    body = {"workflow": True, "messages": [json.loads(encode(hold))]}
    busy = served.step("order_placement", body)
    assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
    store.abandon(key, owner="another-worker")
    done = served.step("order_placement", body)
    assert done.status_code == 200, done.text
    ((placement,),) = [done.json()["messages"]]
    assert placement["cycle_id"] == hold.cycle_id and placement["orders"] == []
