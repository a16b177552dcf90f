"""A cold start loads what the AWS function needs and nothing else: importing an entry point builds
no App and no client, and brings in neither Google's nor Azure's SDK nor any stage; building the
function's own stage on its first call loads that stage's modules and no other stage's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coinswarm.config.deploy import PACKAGED
from stage_modules import EVERY_STAGE_MODULE, STAGE_MODULES, STAGE_OF_FUNCTION, own_modules

ENTRY_POINTS = tuple(f"functions.{name}.aws" for name in PACKAGED)  # the push receiver too
# functions-framework's .pth creates empty `google` / `google.cloud` namespace stubs at interpreter
# start; those two names say nothing. What must stay out are the SDKs themselves.
FOREIGN = (
    "google.cloud.firestore",
    "google.cloud.pubsub",
    "google.api_core",
    "google.auth",
    "azure.cosmos",
    "azure.core",
)


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_importing_an_entry_point_loads_no_other_cloud_and_builds_nothing(module: str) -> None:
    code = (
        "import sys, importlib\n"
        f"entry = importlib.import_module({module!r})\n"
        "import coinswarm.wiring.cloud as cloud\n"
        "assert cloud._app is None, 'an App was built at import'\n"
        "assert entry.function._app is None and entry.function._bus is None, 'wired at import'\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({FOREIGN!r}))\n"
        "assert not loaded, loaded\n"
        "assert 'aws_lambda_powertools' in sys.modules and 'boto3' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


BUILD_PROBE = """
import importlib, json, sys

module, stage, every = sys.argv[1], sys.argv[2], sys.argv[3].split(",")


def loaded():
    return sorted(m for m in every if m in sys.modules)


entry = importlib.import_module(module)
after_import = loaded()
app = entry.function.app()  # what the first invocation builds, as far as it goes offline
if stage:
    getattr(app.stages, stage)
elif module.endswith("push_receiver.aws"):
    entry.function.built(entry.push_receiver)
print(json.dumps({"import": after_import, "build": loaded(), "built": sorted(app.built())}))
"""


@pytest.mark.parametrize("function", list(STAGE_OF_FUNCTION))
def test_a_function_builds_and_loads_its_own_stage_and_no_other(function: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_")}
    env.update(
        COINSWARM_STORE__BACKEND="memory",
        COINSWARM_MARKET__SOURCE="synthetic",
        COINSWARM_SYMBOLS="BTC-USD",
        COINSWARM_PUSH_SECRET="cold-start-push-secret-0123456789",
        AWS_DEFAULT_REGION="us-east-1",
    )
    stage = STAGE_OF_FUNCTION[function] or ""
    args = [f"functions.{function}.aws", stage, ",".join(EVERY_STAGE_MODULE)]
    done = subprocess.run(
        [sys.executable, "-c", BUILD_PROBE, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["import"] == []  # no stage at import
    assert found["build"] == own_modules(function)  # its own stage's modules, no other stage's
    assert (stage in found["built"]) if stage else not set(found["built"]) & set(STAGE_MODULES)
