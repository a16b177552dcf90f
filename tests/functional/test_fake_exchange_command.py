"""`coinswarm fake-exchange`: the command a user runs to rehearse live mode. Started as a user starts it (its
own process), it serves the fake exchange and writes a configuration on which `coinswarm run` trades live,
then stops cleanly on SIGTERM, saying what it did. Its --help teaches the rehearsal."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coinswarm.cli.main import main

READY_S = 30.0


def _lines_until(proc: subprocess.Popen[bytes], marker: str) -> list[str]:
    """The command's output lines up to the one starting with `marker`, waiting at most READY_S (the pipe is
    read unbuffered, so the selector sees all that is left)."""
    assert proc.stdout is not None
    received = b""
    deadline = time.monotonic() + READY_S
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while not any(line.startswith(marker) for line in received.decode().splitlines()):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                pytest.fail(f"no {marker!r} line within {READY_S:.0f} s; so far: {received.decode()}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                pytest.fail(f"the command exited ({proc.wait()}) before {marker!r}: {received.decode()}")
            received += chunk
    return received.decode().splitlines()


@pytest.fixture
def command(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    script = Path(sys.executable).with_name("coinswarm")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "coinswarm.cli.main"]
    proc = subprocess.Popen(
        [*argv, "fake-exchange", "--venue", "coinbase", "--write-config", str(tmp_path / "rehearsal.toml")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_the_command_serves_a_fake_that_coinswarm_run_trades_live_on_and_stops_on_sigterm(
    command: subprocess.Popen[bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines_until(command, "next:")
    url = lines[0].split(" listening on ")[1].split()[0]
    assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
    config = tmp_path / "rehearsal.toml"
    assert f"rehearsal configuration: {config}" in lines[1] and "BEGIN EC PRIVATE KEY" not in "\n".join(lines)
    assert config.stat().st_mode & 0o077 == 0, "the keys are readable by the owner only"
    assert f'venue_url = "{url}"' in config.read_text()

    assert main(["run", "--config", str(config), "--cycles", "1"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "LIVE trading on coinbase" in out.splitlines()[0] and url in out.splitlines()[0]
    assert "orders      1 placed" in out, out
    assert main(["ledger", "verify", "--config", str(config)]) == 0
    assert "OK" in capsys.readouterr().out

    command.send_signal(signal.SIGTERM)
    assert command.wait(timeout=READY_S) == 0
    assert command.stdout is not None
    rest = command.stdout.read().decode()
    assert "fake exchange stopped:" in rest and "1 order(s) placed" in rest, rest


def test_a_taken_port_is_refused_with_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["fake-exchange", "--port", str(port), "--write-config", str(tmp_path / "x.toml")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "pick another --port" in err
    assert not (tmp_path / "x.toml").exists(), "nothing written for an exchange that never started"


def test_the_help_teaches_the_rehearsal(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["fake-exchange", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for taught in ("coinswarm run --config FILE", "ledger verify", "venue_url", "SIGTERM", "--venue binance"):
        assert taught in text, taught
