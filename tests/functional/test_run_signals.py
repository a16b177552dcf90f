"""`coinswarm run` as a real process, signalled as an operator (or a crash) would: SIGTERM stops it cleanly,
kill -9 never locks the next run out, a second run on the same state file is refused naming the first
one's process id and never resets its file, and a mesh replay killed during a cycle resumes to its end.

No sleeping: each test waits for a line of the run's output, or for the state file to show something,
each wait bounded by a deadline."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from functional_builders import series
from test_run_live_data import FakeCoinbase

from coinswarm.cli.state_lock import is_held
from coinswarm.marketdata.candle_files import write_candles
from local_http import STOP_POLL_S

COINSWARM = Path(sys.executable).parent / "coinswarm"
DEADLINE_S = 120.0  # generous: the machine may be busy; every wait ends as soon as its condition holds
LONG = "20000"  # cycles no test lets a run finish: it is signalled long before


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_")}
    env["PYTHONUNBUFFERED"] = "1"  # a line per cycle as it happens, to wait on
    return env


class Run:
    """A `coinswarm run` process; its output is read line by line as it comes."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(COINSWARM), "run", *args],
            cwd=cwd,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.out: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, wanted: Callable[[str], bool], what: str) -> str:
        """The first line of output `wanted` accepts (the lines before it are kept in `out`)."""
        deadline = time.monotonic() + DEADLINE_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"the run ended before {what}:\n{''.join(self.out)}\n{self.stderr()}")
            self.out.append(line)
            if wanted(line):
                return line
        pytest.fail(f"no {what} within {DEADLINE_S} s:\n{''.join(self.out)}")

    def first_cycle(self) -> str:
        return self.wait_for(lambda line: " | " in line, "cycle line")

    def finish(self) -> tuple[int, str, str]:
        """Exit code, the whole standard output, standard error."""
        code = self.proc.wait(timeout=DEADLINE_S)
        self._reader.join(timeout=DEADLINE_S)
        while (line := self.lines.get_nowait()) is not None:
            self.out.append(line)
        return code, "".join(self.out), self.stderr()

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)
        self._reader.join(timeout=DEADLINE_S)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def runs(tmp_path) -> Iterator[Callable[..., Run]]:
    started: list[Run] = []

    def start(*args: str) -> Run:
        run = Run(tmp_path, *args)
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop()


def coinswarm(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COINSWARM), *args], cwd=cwd, env=environment(), capture_output=True, text=True, timeout=DEADLINE_S
    )


def claims_in_progress(state: Path) -> int:
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM idempotency WHERE status = 'in_progress'").fetchone()[0])
    finally:
        db.close()


def claims_seen(state: Path) -> int:
    """`claims_in_progress`, or 0 while the file is not readable yet (being created, migrated, busy)."""
    try:
        return claims_in_progress(state) if state.exists() else 0
    except sqlite3.Error:
        return 0


# -- item 2: SIGTERM stops a run cleanly; a crash never locks the next run out ----------------------------


def test_sigterm_stops_the_run_cleanly_and_a_restart_starts_at_once(tmp_path, runs) -> None:
    state = tmp_path / "s.db"
    first = runs("--synthetic", "--cycles", LONG, "--state", str(state), "--wiring", "fused")
    first.first_cycle()
    assert is_held(state)
    first.proc.send_signal(signal.SIGTERM)
    code, out, err = first.finish()
    assert code == 128 + signal.SIGTERM, err
    assert "(stopped by SIGTERM)" in out and "state file  " in out, out
    assert "Traceback" not in err
    assert not is_held(state)
    verify = coinswarm(tmp_path, "ledger", "verify", "--state", str(state))
    assert verify.returncode == 0 and "OK" in verify.stdout, verify.stdout + verify.stderr
    again = coinswarm(tmp_path, "run", "--synthetic", "--cycles", "2", "--state", str(state), "--keep-state")
    assert again.returncode == 0, again.stderr
    assert "session summary: 2 cycles" in again.stdout


def test_sigterm_while_a_live_run_waits_for_the_next_candle_stops_it_at_once(tmp_path, runs) -> None:
    """A live run spends its time waiting for the next candle to close: SIGTERM ends the wait."""
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCoinbase)
    threading.Thread(target=server.serve_forever, args=(STOP_POLL_S,), daemon=True).start()
    try:
        state = tmp_path / "live.db"
        url = f"--config={write_config(tmp_path, server.server_address[1])}"
        first = runs("--cycles", "5", "--state", str(state), url)
        first.wait_for(lambda line: " SOL-USD " in line and " | " in line, "the first cycle's last line")
        first.proc.send_signal(signal.SIGTERM)
        code, out, err = first.finish()
    finally:
        server.shutdown()
        server.server_close()
    assert code == 128 + signal.SIGTERM, err
    cycles = int(out.split("session summary: ")[1].split(" cycles")[0])
    assert cycles < 5 and "(stopped by SIGTERM)" in out, out  # 1, or 2 when a candle closed meanwhile
    assert "coinbase" in out.lower() and "SYNTHETIC" not in out


def write_config(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "live.toml"
    config.write_text(f'[market]\nsource = "coinbase"\ncoinbase_url = "http://127.0.0.1:{port}"\n')
    return config


def test_after_kill_9_the_next_run_starts_at_once(tmp_path, runs) -> None:
    state = tmp_path / "s.db"
    first = runs("--synthetic", "--cycles", LONG, "--state", str(state), "--wiring", "fused")
    first.first_cycle()
    first.proc.kill()
    first.proc.wait(timeout=DEADLINE_S)
    assert not is_held(state)  # the lock died with its process
    again = coinswarm(tmp_path, "run", "--synthetic", "--cycles", "2", "--state", str(state), "--keep-state")
    assert again.returncode == 0, again.stderr
    assert "session summary: 2 cycles" in again.stdout


def test_a_second_run_on_a_held_state_file_is_refused_naming_the_holder(tmp_path, runs) -> None:
    state = tmp_path / "s.db"
    first = runs("--synthetic", "--cycles", LONG, "--state", str(state), "--wiring", "fused")
    first.first_cycle()
    second = coinswarm(tmp_path, "run", "--synthetic", "--cycles", "2", "--state", str(state), "--keep-state")
    assert second.returncode == 3
    assert f"process {first.pid}" in second.stderr and "--state PATH" in second.stderr
    assert first.proc.poll() is None  # the first run trades on


# -- item 3: two runs without --state never destroy each other's state ----------------------------------


def test_a_second_run_without_state_never_resets_the_first_ones_file(tmp_path, runs) -> None:
    first = runs("--synthetic", "--cycles", LONG, "--wiring", "fused")
    first.first_cycle()
    state = tmp_path / ".coinswarm" / "synthetic.db"
    before = state.stat().st_ino
    second = coinswarm(tmp_path, "run", "--synthetic", "--cycles", "2")
    assert second.returncode == 3, second.stdout
    assert f"process {first.pid}" in second.stderr
    assert state.stat().st_ino == before  # the same file: not deleted, not made afresh
    first.proc.send_signal(signal.SIGTERM)
    code, out, _ = first.finish()
    assert code == 128 + signal.SIGTERM
    cycles = int(out.split("session summary: ")[1].split(" cycles")[0])
    status = coinswarm(tmp_path, "status", "--json")  # no --state: the first run's file, all of it
    assert status.returncode == 0, status.stderr
    assert f'"state": "{Path(".coinswarm/synthetic.db")}"' in status.stdout
    verify = coinswarm(tmp_path, "ledger", "verify")
    assert verify.returncode == 0 and "OK" in verify.stdout, verify.stdout + verify.stderr
    assert cycles > 0


# -- item 4: a mesh replay killed during a cycle resumes to its end -------------------------------------


def test_a_mesh_replay_killed_inside_a_claim_resumes_and_completes(tmp_path, runs) -> None:
    csv = write_candles(tmp_path / "ETH_USD-1m.csv.gz", series(n=1200, symbols=("ETH-USD",))["ETH-USD"])
    state = tmp_path / "replay.db"
    cycles = 1200 - 299  # market.warmup_candles = 300: the first cycle trades on the 300th candle
    replay = ["--replay", str(csv), "--wiring", "mesh", "--quiet", "--cycles", str(cycles)]
    first = runs(*replay, "--state", str(state))
    first.wait_for(lambda line: line.startswith("  state "), "banner")
    left = 0
    deadline = time.monotonic() + DEADLINE_S
    while not left:  # freeze the run while a claim of it is in progress, then kill it there
        assert time.monotonic() < deadline, "the run never showed a claim in progress"
        assert first.proc.poll() is None, "the replay ended before it could be killed inside a claim"
        if claims_seen(state):
            first.proc.send_signal(signal.SIGSTOP)
            left = claims_seen(state)
            first.proc.send_signal(signal.SIGKILL if left else signal.SIGCONT)
    first.proc.wait(timeout=DEADLINE_S)
    assert claims_in_progress(state) == left > 0  # dated in replay time: for the old code, never expired
    resumed = coinswarm(tmp_path, "run", *replay, "--state", str(state), "--keep-state")
    assert resumed.returncode == 0, resumed.stderr
    assert "claim(s)" in resumed.stderr and f"session summary: {cycles} cycles" in resumed.stdout
    assert claims_in_progress(state) == 0
    verify = coinswarm(tmp_path, "ledger", "verify", "--state", str(state))
    assert verify.returncode == 0 and "OK" in verify.stdout, verify.stdout + verify.stderr
    whole = coinswarm(tmp_path, "run", *replay, "--state", str(tmp_path / "whole.db"))
    assert whole.returncode == 0, whole.stderr
    assert summary(whole.stdout)[0].startswith("account")
    assert summary(resumed.stdout) == summary(whole.stdout)  # as if it had never been killed


def summary(out: str) -> list[str]:
    """The account and positions lines of a run's summary (not its counts of this session's orders)."""
    return [line for line in out.split("session summary")[1].splitlines() if line.startswith(("account", "  "))]
