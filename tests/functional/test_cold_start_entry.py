"""`functions.cold_start`, which the `functions` package runs before any entry point loads: in a cloud
runtime the garbage collector is paused while a function's modules load and resumed, with them frozen,
once they are in; outside one (tests, the local mesh) it is left alone. pydantic's plugins are off
unless the environment says otherwise. Each case is a fresh interpreter: the collector is the process's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from functions.cold_start import CLOUD_RUNTIME_ENV

PROBE = """
import gc, json, os, sys, importlib

import functions  # the package runs cold_start.prepare()

paused = not gc.isenabled()
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info["generation"]))
importlib.import_module(sys.argv[1])
print(json.dumps({
    "paused_while_loading": paused,
    "collections_while_loading": len(collections),
    "enabled_after": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "plugins": os.environ.get("PYDANTIC_DISABLE_PLUGINS"),
}))
"""


def probe(entry: str, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k not in CLOUD_RUNTIME_ENV and k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, entry], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize(
    ("entry", "runtime"),
    [
        ("functions.agent_scoring.aws", {"AWS_LAMBDA_FUNCTION_NAME": "coinswarm-agent_scoring"}),
        ("functions.manual_trade.aws", {"AWS_LAMBDA_FUNCTION_NAME": "coinswarm-manual_trade"}),
        ("functions.committee_vote.gcp", {"K_SERVICE": "coinswarm-committee-vote"}),
        ("functions.tick_ingest.gcp", {"FUNCTION_TARGET": "tick_ingest"}),
    ],
)
def test_in_a_cloud_runtime_the_collector_rests_while_an_entry_point_loads(entry: str, runtime: dict[str, str]) -> None:
    found = probe(entry, **runtime)
    assert found["paused_while_loading"] is True
    assert found["collections_while_loading"] == 0
    assert found["enabled_after"] is True  # resumed once the entry point's modules are in
    assert isinstance(found["frozen"], int) and found["frozen"] > 10_000  # the SDKs' and Coinswarm's objects


@pytest.mark.parametrize("entry", ["functions.agent_scoring.aws", "functions.committee_vote.gcp"])
def test_outside_a_cloud_runtime_the_collector_is_left_alone(entry: str) -> None:
    found = probe(entry)
    assert found["paused_while_loading"] is False
    assert isinstance(found["collections_while_loading"], int) and found["collections_while_loading"] > 0
    assert found["enabled_after"] is True
    assert found["frozen"] == 0


def test_pydantic_plugins_are_off_unless_the_environment_says_otherwise() -> None:
    assert probe("functions.trade_logging.aws")["plugins"] == "__all__"
    assert probe("functions.trade_logging.aws", PYDANTIC_DISABLE_PLUGINS="")["plugins"] == ""  # plugins wanted


def test_the_push_receiver_does_not_load_the_manual_trade_endpoint() -> None:
    code = "import sys, functions.push_receiver.aws\nprint(sorted(m for m in sys.modules if 'manual_trade' in m))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"
