"""Session fixtures for the Google Cloud emulators of the gcloud CLI: Firestore and Pub/Sub.

`firestore_emulator` and `pubsub_emulator` each start their emulator on first use, on a free loopback
port, wait until it answers an HTTP GET (the Java start-up takes a few seconds; at most STARTUP_S),
yield its `host:port`, and stop it at the end of the session. gcloud runs the emulator as a Java child
(through a shell script), so each is started in a session of its own and stopped by killing the whole
process group; SIGKILL at once, since an emulator keeps nothing worth a graceful shutdown.

The client libraries find an emulator through FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST, read once,
when a client is built. Those variables are never set for the session (they would send every later
client there): `firestore_client(host)` sets FIRESTORE_EMULATOR_HOST only while it builds the client (the
client keeps the address and uses an insecure channel and anonymous credentials), and `pubsub_clients(host)`
hands the Pub/Sub clients an insecure channel to the emulator, with no environment at all.

A missing gcloud skips the tests that need it, saying so (in CI, where REQUIRE_LOCAL_SERVERS is set,
it fails them).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from servers import missing

PROJECT = "coinswarm-test"
STARTUP_S = 60.0
POLL_S = 0.1

_env_lock = threading.Lock()
_running: dict[int, subprocess.Popen[bytes]] = {}


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of a Firestore emulator (native mode) for this session."""
    yield from _emulator(
        "firestore",
        lambda host, folder: ["emulators", "firestore", "start", f"--host-port={host}"],
        tmp_path_factory,
    )


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of a Pub/Sub emulator for this session (project PROJECT)."""
    # Only the beta track has the Pub/Sub emulator. Its own data dir: the default one is shared by users.
    yield from _emulator(
        "pubsub",
        lambda host, folder: [
            "beta",
            "emulators",
            "pubsub",
            "start",
            f"--host-port={host}",
            f"--data-dir={folder}",
            f"--project={PROJECT}",
        ],
        tmp_path_factory,
    )


@pytest.fixture(scope="session")
def firestore_session_client(firestore_emulator: str) -> Any:
    """One Firestore client on the emulator, shared by the session (tests keep apart by collection prefix)."""
    return firestore_client(firestore_emulator)


# -- clients -------------------------------------------------------------------------------------


def firestore_client(host: str, project: str = PROJECT, client_class: Any = None) -> Any:
    """A `google.cloud.firestore.Client` (or `client_class`, a subclass) on the emulator at `host`, without
    leaving FIRESTORE_EMULATOR_HOST set: the client reads it once, in its constructor."""
    from google.cloud import firestore

    with _env_lock, mock.patch.dict(os.environ, {"FIRESTORE_EMULATOR_HOST": host}):
        return (client_class or firestore.Client)(project=project)


def pubsub_clients(host: str) -> tuple[Any, Any]:
    """A Pub/Sub (publisher, subscriber) pair on the emulator at `host`, over insecure channels."""
    import grpc
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    publisher = PublisherClient(transport=PublisherGrpcTransport(channel=grpc.insecure_channel(host)))
    subscriber = SubscriberClient(transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(host)))
    return publisher, subscriber


# -- running an emulator -------------------------------------------------------------------------


def _emulator(name: str, args: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        missing(
            f"the {name} emulator needs the Google Cloud CLI (`gcloud`, with the cloud-firestore-emulator, "
            "pubsub-emulator and beta components, and Java), and it is not on PATH"
        )
    if shutil.which("java") is None:
        missing(f"the {name} emulator runs on Java (17 or newer), and `java` is not on PATH")
    folder = tmp_path_factory.mktemp(f"gcloud-{name}")
    log = folder / "emulator.log"
    host = f"127.0.0.1:{_free_port()}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [gcloud, *args(host, folder), "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, Java child included
        )
    _running[proc.pid] = proc
    try:
        _wait_until_ready(name, proc, host, log)
        yield host
    finally:
        _stop(proc)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_ready(name: str, proc: subprocess.Popen[bytes], host: str, log: Path) -> None:
    """Poll `http://host/` (both emulators answer "Ok") until it answers, the process dies, or STARTUP_S."""
    deadline = time.monotonic() + STARTUP_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the {name} emulator exited with {proc.returncode} before it answered:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"http://{host}/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(POLL_S)  # a bounded readiness poll
    _stop(proc)
    pytest.fail(f"the {name} emulator did not answer on {host} within {STARTUP_S:.0f} s ({last}):\n{_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the emulator's whole process group (gcloud, its shell script, the Java server) and reap it."""
    if _running.pop(proc.pid, None) is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: the group id is the leader's pid
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(POLL_S)


def _group_alive(pgid: int) -> bool:
    """Any process of group `pgid` still running (zombies, which only wait for their parent, do not count)."""
    proc_fs = Path("/proc")
    if not proc_fs.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in proc_fs.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state, ppid, pgrp, ...
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@atexit.register
def _stop_all() -> None:
    """A safety net if the session ends without its fixture teardown."""
    for proc in list(_running.values()):
        _stop(proc)
