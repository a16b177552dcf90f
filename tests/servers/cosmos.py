"""The Cosmos DB stand-in: `@vercel/cosmosdb-server` (installed by `make servers` into `.servers/`), started
once per test session in plain HTTP on a free loopback port.

Fixtures and helpers:

* `cosmos_server` (session): starts the server, waits (bounded) until it answers, yields a `CosmosServer`
  (endpoint, key, a shared client) and stops it at the end of the session. A missing binary skips the
  test with a pointer to `make servers` (in CI, where REQUIRE_LOCAL_SERVERS is set, it fails it).
* `cosmos_database` (per test): a database name of the test's own, deleted afterwards.
* `history_store(server, database)`: a `CosmosHistoryStore` on that database, its containers created,
  with the emulator gaps below papered over by `EmulatorDatabase`. Extra keyword arguments go to the
  store; `wrap` lets a test put its own proxy (e.g. one that injects 429s) around each container.

The emulator's gaps (cosmosdb-server 1.0.1 with azure-cosmos 4.17) and what the tests do about each; the
product code (`coinswarm.adapters.cosmos_history`) is written for the real service and works around
none of them:

1. Reading a missing item answers 500 ("Cannot read properties of undefined (reading '<pk>')") instead
   of 404. `EmulatorContainer.read_item` turns exactly that 500 into the `CosmosResourceNotFoundError`
   the real service raises (the adapter's `get_projection` and `put_projection` rely on it); any other
   500 passes through unchanged.
2. Transactional batch is not atomic: the operations before a failing one stay written (real Cosmos DB
   rolls them back and answers 424 for them). `EmulatorContainer.execute_item_batch` undoes, on a
   `CosmosBatchOperationError`, the creates the emulator reports as done, then re-raises the error,
   so the adapter sees what the real service would leave. Only the tests that make a batch collide
   in the middle reach this (the contract's refused batches are refused before any write).
3. `partition_key=` of `query_items` is not enforced: the server reads the partition key from the SQL
   (a single-partition query without a filter on it is refused with 400 "missing partition keys").
   Nothing to work around: every single-partition query of the adapter filters on its partition key
   in the SQL as well (which real Cosmos DB is content with).
4. OFFSET/LIMIT, GROUP BY and DISTINCT are rejected. The adapter uses none (it uses `TOP`).
5. TTL is stored but never enforced (items do not expire). The tests check the containers' `defaultTtl`
   and the items' `ttl` field; none waits for an expiry.
6. The HTTPS certificate is self-signed and expired, so the server runs with `--no-ssl`; its account
   document still advertises `https://` locations, so every client the tests build passes
   `enable_endpoint_discovery=False` (through `from_settings(**client_options)` for the adapter's own).
7. There is no throttling (429), no request-unit accounting and no replica lag: 429s are injected by a
   wrapper around the container proxy (tests/integration/test_cosmos_history.py).
8. Throughput offers are accepted and ignored; a composite index is demanded for a multi-field ORDER BY
   (as on the real service). Unique keys are enforced per logical partition, as on the real service.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from azure.cosmos import CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import CosmosBatchOperationError, CosmosHttpResponseError, CosmosResourceNotFoundError

from coinswarm.adapters.cosmos_history import CosmosHistoryStore
from servers import missing

COSMOS_BIN = Path(__file__).resolve().parents[2] / ".servers/node_modules/.bin/cosmosdb-server"
# The Cosmos DB emulator's published well-known key; this server accepts any base64 key.
EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
READY_TIMEOUT_S = 20.0
_READY = b"Ready to accept HTTP connections at "


@dataclass
class CosmosServer:
    endpoint: str
    key: str = EMULATOR_KEY
    output: deque[str] = field(default_factory=lambda: deque(maxlen=200), repr=False)
    """The server's latest output lines, for diagnostics."""
    _clients: list[CosmosClient] = field(default_factory=list, repr=False)

    def new_client(self) -> CosmosClient:
        """A client of its own (as a separate process would have one)."""
        client = CosmosClient(self.endpoint, credential=self.key, enable_endpoint_discovery=False)
        self._clients.append(client)
        return client

    @cached_property
    def client(self) -> CosmosClient:
        """One client shared by the session's tests."""
        return self.new_client()

    def close(self) -> None:
        for client in self._clients:
            client.close()


def _start(log: deque[str]) -> tuple[subprocess.Popen[bytes], str]:
    if not COSMOS_BIN.exists():
        missing(
            f"the Cosmos DB emulator is not installed at {COSMOS_BIN}; run `make servers` (it needs Node.js and npm)"
        )
    try:
        proc = subprocess.Popen(
            [str(COSMOS_BIN), "--no-ssl", "--host", "127.0.0.1", "--port", "0"],  # port 0: the OS picks a free one
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as e:
        missing(f"could not start {COSMOS_BIN} ({e}); is Node.js installed? run `make servers`")
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    buffered = b""
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while _READY not in buffered or b"\n" not in buffered.split(_READY, 1)[1]:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise TimeoutError(f"no 'Ready' line within {READY_TIMEOUT_S} s")
            chunk = os.read(proc.stdout.fileno(), 4096)  # unbuffered, so select() sees all that is left
            if not chunk:
                raise RuntimeError(f"it exited with {proc.wait()}")
            buffered += chunk
    except (TimeoutError, RuntimeError) as e:
        proc.kill()
        proc.wait()
        pytest.fail(f"the Cosmos DB emulator did not start: {e}; output: {buffered.decode(errors='replace')}")
    finally:
        selector.close()
    address = buffered.split(_READY, 1)[1].split(b"\n", 1)[0].decode().strip()
    log.append(buffered.decode(errors="replace"))
    threading.Thread(target=_drain, args=(proc, log), daemon=True).start()
    return proc, f"http://{address}"


def _drain(proc: subprocess.Popen[bytes], log: deque[str]) -> None:
    """Keep reading the server's output so a full pipe never blocks it (kept for diagnostics)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        log.append(line.decode(errors="replace"))


def _wait_until_it_answers(endpoint: str) -> None:
    """It printed its address once listening, so this answers at once; a refused connect is retried a few
    times with httpx's own (bounded, growing) backoff."""
    try:
        with httpx.Client(transport=httpx.HTTPTransport(retries=5), timeout=5.0) as http:
            answer = http.get(endpoint + "/")
    except httpx.HTTPError as e:
        pytest.fail(f"the Cosmos DB emulator at {endpoint} does not answer: {e}")
    if answer.status_code != 200:
        pytest.fail(f"the Cosmos DB emulator at {endpoint} answers {answer.status_code} to GET /")


@pytest.fixture(scope="session")
def cosmos_server() -> Iterator[CosmosServer]:
    output: deque[str] = deque(maxlen=200)
    proc, endpoint = _start(output)
    server = CosmosServer(endpoint, output=output)
    try:
        _wait_until_it_answers(endpoint)
        yield server
    finally:
        server.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def new_database_name() -> str:
    return f"t{uuid.uuid4().hex[:16]}"


def drop_database(server: CosmosServer, name: str) -> None:
    with contextlib.suppress(CosmosResourceNotFoundError):
        server.client.delete_database(name)


@pytest.fixture
def cosmos_database(cosmos_server: CosmosServer) -> Iterator[str]:
    """A database name of this test's own (not created yet), deleted after the test."""
    name = new_database_name()
    yield name
    drop_database(cosmos_server, name)


# -- the emulator's gaps, papered over on the test side --------------------------------------------


class EmulatorContainer:
    """A container proxy that fixes gaps 1 and 2 of the module docstring; the rest is delegated."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def read_item(self, item: Any, partition_key: Any, **kwargs: Any) -> Any:
        try:
            return self._inner.read_item(item, partition_key=partition_key, **kwargs)
        except CosmosHttpResponseError as e:
            if e.status_code == 500 and "Cannot read properties of undefined" in str(e.message):
                raise CosmosResourceNotFoundError(
                    status_code=404, message="Entity with the specified id does not exist in the system."
                ) from e
            raise

    def execute_item_batch(self, batch_operations: Any, partition_key: Any, **kwargs: Any) -> Any:
        try:
            return self._inner.execute_item_batch(batch_operations, partition_key=partition_key, **kwargs)
        except CosmosBatchOperationError as e:
            for operation, response in zip(batch_operations, e.operation_responses or [], strict=False):
                if operation[0] == "create" and int(response["statusCode"]) < 400:
                    self._inner.delete_item(operation[1][0]["id"], partition_key=partition_key)
            raise


class EmulatorDatabase:
    """A database proxy whose containers are `wrap(EmulatorContainer(real container))`."""

    def __init__(self, inner: Any, wrap: Callable[[str, Any], Any] | None = None) -> None:
        self._inner = inner
        self._wrap = wrap or (lambda name, container: container)
        self.id = inner.id

    def get_container_client(self, name: str) -> Any:
        return self._wrap(name, EmulatorContainer(self._inner.get_container_client(name)))

    def create_container_if_not_exists(self, **kwargs: Any) -> Any:
        return self._inner.create_container_if_not_exists(**kwargs)


def history_store(
    server: CosmosServer,
    database: str,
    *,
    client: CosmosClient | None = None,
    wrap: Callable[[str, Any], Any] | None = None,
    **options: Any,
) -> CosmosHistoryStore:
    """A store on `database` (created, with its containers, if missing), through the gap shims."""
    client = client or server.client
    db = client.create_database_if_not_exists(database)
    store = CosmosHistoryStore(cast(DatabaseProxy, EmulatorDatabase(db, wrap)), **options)
    store.create_containers()
    return store
