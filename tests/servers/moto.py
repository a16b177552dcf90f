"""The AWS stand-in: moto in server mode, speaking DynamoDB's (and SQS's) real HTTP API to boto3.

`moto_server` starts moto's server (`moto.server.main`, what `python -m moto.server` runs) once per
test session on a free loopback port, waits (a bounded poll) until it answers HTTP, yields its
endpoint URL and stops it at the end. Without moto installed, the tests that ask for it skip and
say so.

One change to moto: its server handles requests on threads, and its DynamoDB handlers read an item,
check the condition and write it back without a lock, so two concurrent conditional writes on one
item can both pass (seen here: two of eight racing UpdateItems raised a version to the same
number). DynamoDB itself applies each write to an item atomically. So the server is started with
each DynamoDB request handled under one lock (`_SERIALISED_MOTO`): every request is atomic as on
DynamoDB, and clients still race freely between requests, which is what the adapters' races test.
Other services' requests are not locked (an SQS long poll must not hold up the rest).

Clients get dummy credentials through their constructor (`aws_client`), never through the real
environment, so a test can never reach a real account. `new_dynamo_store` gives each test its own
table prefix, hence its own tables, on the one shared server; `dynamo_store` is the fixture form.
`moto_api` speaks to the server's own control API (`/moto-api/...`), and `moto_config` changes its
configuration for a block and puts back what was there.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from servers import missing

REGION = "us-east-1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
DUMMY_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}


# `python -m moto.server`, with each DynamoDB request handled under one lock (see the module docstring).
_SERIALISED_MOTO = """
import sys
import threading

import moto.server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

lock = threading.Lock()
handle = DomainDispatcherApplication.__call__


def serialised(self, environ, start_response):
    if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        return handle(self, environ, start_response)  # other services (an SQS long poll) stay concurrent
    with lock:
        return handle(self, environ, start_response)


DomainDispatcherApplication.__call__ = serialised
moto.server.main(sys.argv[1:])
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", "/moto-api/")
        conn.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        conn.close()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


def serve_moto(script: str, log: Path) -> Iterator[str]:
    """Run `script` (a moto server's start-up code) on a free loopback port, logging to `log`; yield its
    endpoint URL once it answers, stop it afterwards. A server that exits or stays silent fails the test."""
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", script, "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(port):
            if proc.poll() is not None:
                pytest.fail(f"moto server exited with {proc.returncode} before answering:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"moto server did not answer on port {port} within {START_TIMEOUT_S:.0f} s:\n{_tail(log)}")
            time.sleep(0.05)  # the bounded readiness poll
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint URL (`http://127.0.0.1:<port>`) of a moto server running for the whole session."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        missing("moto[server] is not installed (pip install 'moto[server]'): no local DynamoDB")
    yield from serve_moto(_SERIALISED_MOTO, tmp_path_factory.mktemp("moto") / "server.log")


def moto_api(endpoint: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """GET `path` of moto's control API, or POST `body` to it; the JSON answer (None when empty)."""
    request = urllib.request.Request(
        endpoint + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


UNREPORTED_CONFIG = {"stepfunctions": {"execute_state_machine": False}}
"""moto's defaults for the sections its config API leaves out of its answer until they are set."""


@contextmanager
def moto_config(endpoint: str, **sections: dict[str, Any]) -> Iterator[str]:
    """moto's configuration changed by `sections` (`lambda={"use_docker": False}`, ...) for the block,
    and each changed section put back as it was afterwards; yields the endpoint."""
    before = moto_api(endpoint, "/moto-api/config")
    moto_api(endpoint, "/moto-api/config", sections)
    try:
        yield endpoint
    finally:
        restored = {name: before.get(name, UNREPORTED_CONFIG.get(name)) for name in sections}
        moto_api(endpoint, "/moto-api/config", restored)


def aws_client(service: str, endpoint: str, **config: Any) -> Any:
    """A boto3 client for `service` on the stand-in, with dummy credentials and no SDK retries
    (the adapters' own backoff is what the tests exercise). `config` adds botocore Config options."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {"retries": {"mode": "standard", "total_max_attempts": 1}, **config}
    return boto3.client(
        service, region_name=REGION, endpoint_url=endpoint, config=Config(**options), **DUMMY_CREDENTIALS
    )


def new_dynamo_store(endpoint: str, *, client: Any = None, prefix: str | None = None, **options: Any) -> Any:
    """A `DynamoStore` on fresh tables of its own (a unique prefix), created and ACTIVE.

    `client` replaces the plain moto client (a test's wrapper around one); `options` go to the
    constructor (`now`, `sleep`, `backoff`, ...)."""
    from coinswarm.adapters.dynamodb_store import DynamoStore

    store = DynamoStore(
        client=client if client is not None else aws_client("dynamodb", endpoint),
        table_prefix=prefix or f"t-{uuid.uuid4().hex[:12]}",
        **options,
    )
    store.create_tables()
    return store


def drop_dynamo_tables(store: Any) -> None:
    """Delete a test store's tables (moto keeps them in memory until the session ends otherwise)."""
    for name in store.table_names():
        store.client.delete_table(TableName=name)


@pytest.fixture
def dynamo_store(moto_server: str) -> Iterator[Any]:
    """A fresh `DynamoStore` on the session's moto server, its tables dropped afterwards."""
    store = new_dynamo_store(moto_server)
    yield store
    drop_dynamo_tables(store)


@pytest.fixture
def dynamo_store_factory(moto_server: str) -> Iterator[Callable[..., Any]]:
    """`make(**options)`: as many fresh stores as a test needs (see `new_dynamo_store`)."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        store = new_dynamo_store(moto_server, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        drop_dynamo_tables(store)
