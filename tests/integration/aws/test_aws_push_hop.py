"""A hop from AWS to Google Cloud: with `deploy.placement` putting trade_logging on GCP, order_placement's
Lambda hands its PlacementDone to the signed HTTP push instead of SQS, and the other cloud's push
receiver (served over real HTTP on loopback) logs the fills. The rest of the cycle runs on SQS (moto)."""

from __future__ import annotations

from typing import Any

import pytest

from coinswarm.domain.models import FillRecorded
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
