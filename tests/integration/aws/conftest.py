"""The AWS entry points against the session's moto server: each test gets its own tables and queues
(a fresh prefix), and the container's App built on them, as a warm Lambda container would have it.

`mesh` plays Lambda's part: it invokes a handler with an event shaped like AWS's documented samples
(`events/*.json`) and, for SQS, does what the event source mapping does: receive up to `batch` messages,
turn them into the event's records, delete those the handler did not report in `batchItemFailures`.
A mesh chains by queues (`deploy.chain = "queues"`) unless a test asks for `deploy={"chain": "invoke"}`.

For the invoke chain, `invoked_lambdas` switches the moto server to its Docker-free Lambda ("lambda-simple",
`lambda.use_docker = false`, put back after the test), which answers every invocation with the event it
received, and creates the consumers under their deployed names, with their asynchronous invocation
configured as the Terraform does (two retries, then the dead-letter queue). `AsyncLambda` then plays Lambda's
asynchronous queue: it reads, from the answers moto gave the functions' own Lambda clients, which function
was invoked (the request's path) with which event (what moto received), and hands exactly that event to
that function's handler."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_helpers import (
    FUNCTIONS,
    TF,
    WARMUP,
    AsyncLambda,
    CountingBroker,
    Mesh,
    mesh_settings,
    series,
)

from coinswarm.adapters.dynamodb_store import DynamoStore
from coinswarm.adapters.lambda_invoke_bus import configure_async_invocation
from coinswarm.adapters.paper_broker import PaperBroker
from coinswarm.adapters.sqs_bus import QUEUES
from coinswarm.marketdata.replay import ReplayMarketData
from coinswarm.wiring.cloud import container_app, reset_container_app
from functions.order_placement import aws as order_placement
from servers.moto import REGION, aws_client, drop_dynamo_tables, moto_config, new_dynamo_store


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials for the clients the functions build themselves (the stand-in ignores them);
    no profile, config file or deployment variable of the machine leaks in."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "COINSWARM_MANUAL_TRADE_SECRET", "COINSWARM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for q in QUEUES:
        monkeypatch.delenv(f"COINSWARM_QUEUE_URL_{q.topic.upper()}", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def make_mesh(moto_server: str, aws_env: None, tmp_path: Path) -> Iterator[Callable[..., Mesh]]:
    """`make(**sections)`: a Mesh whose settings take these section overrides (e.g. committee={...})."""
    made: list[tuple[Mesh, Any, Any]] = []

    def make(**sections: dict[str, Any]) -> Mesh:
        prefix = f"cs{uuid.uuid4().hex[:10]}"
        tables = new_dynamo_store(moto_server, prefix=prefix)
        ddb = aws_client("dynamodb", moto_server)
        ddb.create_table(**order_placement.IDEMPOTENCY_TABLE.create_table_request(prefix))
        settings = mesh_settings(moto_server, prefix, tmp_path / f"{prefix}.db", **sections)
        now = int(time.time()) // TF * TF
        broker = CountingBroker(
            PaperBroker(
                DynamoStore.from_settings(settings),
                account=settings.account,
                starting_cash=settings.paper.starting_cash,
                fee_bps=settings.paper.fee_bps,
                slippage_bps=settings.paper.slippage_bps,
                min_order_notional=settings.risk.min_order_notional,
            )
        )
        reset_container_app()
        app = container_app(
            settings, market=ReplayMarketData(series(now), label="test series", recent_limit=WARMUP), broker=broker
        )
        mesh = Mesh(moto_server, prefix, settings, app, broker)
        made.append((mesh, tables, ddb))
        return mesh

    yield make
    reset_container_app()
    for mesh, tables, ddb in made:
        mesh.drop()
        drop_dynamo_tables(tables)
        ddb.delete_table(TableName=order_placement.IDEMPOTENCY_TABLE.name(mesh.prefix))
        mesh.sqs.close()
        ddb.close()


@pytest.fixture
def logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every JSON line the functions' Loggers write during the test, parsed."""
    buffer = io.StringIO()
    handlers = [module.function.logger.registered_handler for module in FUNCTIONS]
    before = [h.setStream(buffer) for h in handlers]
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    for h, stream in zip(handlers, before, strict=True):
        h.setStream(stream)


@pytest.fixture
def lambda_simple(moto_server: str) -> Iterator[str]:
    """moto's Lambda without Docker for one test: an invocation answers with the event it received."""
    with moto_config(moto_server, **{"lambda": {"use_docker": False}}):
        yield moto_server


@pytest.fixture
def invoked_lambdas(lambda_simple: str) -> Iterator[Callable[[Mesh], AsyncLambda]]:
    """`deploy(mesh)`: the mesh's consumers on moto's Lambda, and every function's bus watched."""
    made: list[AsyncLambda] = []

    def deploy(mesh: Mesh) -> AsyncLambda:
        assert mesh.settings.deploy.chain == "invoke"
        lam = AsyncLambda(lambda_simple, mesh.prefix)
        made.append(lam)
        configure_async_invocation(lam.client, mesh.sqs, mesh.prefix)  # as the Terraform does
        for module in FUNCTIONS:
            lam.watch(module.function.bus().client)
        return lam

    yield deploy
    for lam in made:
        lam.drop()
