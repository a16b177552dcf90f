"""Hops between AWS and Google Cloud: with `deploy.placement` putting trade_logging on GCP, order_placement's
Lambda hands its PlacementDone to the signed HTTP push instead of SQS, and the other cloud's push
receiver (served over real HTTP on loopback) logs the fills. The rest of the cycle runs on SQS (moto).
And the other way: a decision pushed to AWS's push receiver is placed there, its PlacementDone handed on
only with a fill, as from order_placement's own Lambda."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

import pytest
from aws_helpers import TF, LambdaContext, sample

from coinswarm.domain.models import FillRecorded
from coinswarm.http.push_wire import envelope
from coinswarm.http.signing import sign
from coinswarm.stages.messages import DECISIONS, PLACEMENTS, PlacementDone, decode
from decisions import buy_decision, hold_decision
from functions.push_receiver import aws as push_aws
from functions.push_receiver.local import local_receiver, serve
from servers.moto import REGION

SECRET = "push-secret-for-tests-only-0123456789abcdef"


def test_placements_cross_to_the_other_cloud_over_signed_http_and_reach_its_ledger(
    make_mesh: Any, monkeypatch: pytest.MonkeyPatch, logs: Any
) -> None:
    monkeypatch.setenv("COINSWARM_PUSH_SECRET", SECRET)
    receiver: dict[str, Any] = {}
    received: list[str] = []

    def handle(request: Any) -> Any:
        received.append(request.path)
        return receiver["gcp"].handle(request)

    server = serve(handle)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/push"
        mesh = make_mesh(deploy={"placement": {"trade_logging": "gcp"}}, push={"urls": {"placements": url}})
        assert mesh.settings.aws.region == REGION
        # the other cloud's trade_logging: a receiver over the same stores (as GCP would reach them)
        receiver["gcp"] = local_receiver(mesh.app, [SECRET])
        fills: list[Any] = []
        for ts in range(mesh.now - 10 * 60, mesh.now + 1, 60):
            counts = mesh.cycle(ts)
            assert counts["placements"] == 0  # nothing went to the placements queue ...
            fills = [e.payload for e in mesh.app.ledger.events() if isinstance(e.payload, FillRecorded)]
            if fills:
                break
        assert fills, "no order filled: the hop proves nothing"
        assert received and set(received) == {"/push"}  # ... every PlacementDone with a fill was pushed, signed
        assert [f.fill.client_order_id for f in fills] == mesh.broker.submitted[: len(fills)]
        assert mesh.app.ledger.verify().ok
        assert mesh.depth("placements") == 0 and mesh.depth("placements", dlq=True) == 0
        assert SECRET not in str(logs())
    finally:
        server.shutdown()


def pushed(message: Any) -> dict[str, Any]:
    """The Function URL event of a push of `message` on the decisions topic, signed now."""
    body = envelope(DECISIONS, message)
    event = copy.deepcopy(sample("function_url_event"))
    event["headers"] = {"content-type": "application/json", **sign([SECRET], "POST", "/", body, int(time.time()))}
    event["body"] = body.decode()
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def test_a_decision_pushed_to_aws_hands_its_placement_on_only_with_a_fill(make_mesh, monkeypatch) -> None:
    monkeypatch.setenv("COINSWARM_PUSH_SECRET", SECRET)
    mesh = make_mesh(deploy={"placement": {"committee_vote": "gcp"}})  # decisions reach AWS by push
    t0 = mesh.now - 5 * TF
    buy = buy_decision("BTC-USD", f"cycle-{t0}", t0, intent_id=f"cs-BTC-USD-{t0}-b", notional=500.0, price=100.0)

    answer = push_aws.handler(pushed(buy), LambdaContext())
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["published"] == []  # placed, not filled: nothing for trade_logging
    assert mesh.broker.submitted == [f"cs-BTC-USD-{t0}-b"] and mesh.depth(PLACEMENTS) == 0

    hold = hold_decision("BTC-USD", f"cycle-{t0 + TF}", t0 + TF, price=101.0)  # the order fills at 101
    answer = push_aws.handler(pushed(hold), LambdaContext())
    assert json.loads(answer["body"])["published"] == [PLACEMENTS]
    [sent] = mesh.receive(PLACEMENTS)
    assert [f.client_order_id for f in decode(PlacementDone, sent["Body"]).fills] == [f"cs-BTC-USD-{t0}-b"]
