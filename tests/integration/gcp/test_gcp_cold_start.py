"""Cold start of the Google Cloud entry points: a fresh interpreter that loads an entry point the way
functions-framework does (by file, as module `gcp`) and then builds the container's runtime and App with
the default stores never loads the AWS or Azure SDKs, nor Firestore, which the configuration did not
choose. (functions-framework's .pth file creates empty `google` / `google.cloud` namespace packages at
interpreter start: the SDKs themselves are what must stay out.) Nor does it load any stage at import,
and building the function's own stage loads that stage's modules and no other stage's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coinswarm.config.deploy import PACKAGED
from stage_modules import EVERY_STAGE_MODULE, STAGE_OF_FUNCTION, own_modules

pytest.importorskip("functions_framework", reason="functions-framework is not installed (.[gcp])")

ROOT = Path(__file__).resolve().parents[3]
ENTRY_POINTS = PACKAGED  # every function that has a zip, the push receiver too
NOT_CHOSEN = ("boto3", "botocore", "aws_lambda_powertools", "azure.cosmos", "google.cloud.firestore")

PROBE = """
import importlib.util, json, sys

path, target, not_chosen, stage, every = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4], sys.argv[5]


def loaded():
    return sorted(m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in not_chosen))


def stages():
    return sorted(m for m in every.split(",") if m in sys.modules)


spec = importlib.util.spec_from_file_location("gcp", path)
module = importlib.util.module_from_spec(spec)
sys.modules["gcp"] = module
spec.loader.exec_module(module)
assert callable(getattr(module, target))
after_import, stages_at_import = loaded(), stages()
from functions import gcp_common

app = gcp_common.runtime().app
if target == "manual_trade":
    gcp_common.manual_trade_handler()
if target == "push_receiver":
    module.receiver()
if stage:
    getattr(app.stages, stage)
print(json.dumps({
    "import": after_import,
    "build": loaded(),
    "pubsub": "google.cloud.pubsub_v1" in sys.modules,
    "stages": {"import": stages_at_import, "build": stages()},
}))
"""


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_a_gcp_entry_point_loads_no_sdk_its_configuration_did_not_choose(name: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINSWARM_") and k != "PYTHONPATH"}
    env.update(
        COINSWARM_STORE__PATH=str(tmp_path / "state.db"),
        COINSWARM_MARKET__SOURCE="synthetic",
        COINSWARM_SYMBOLS="BTC-USD",
        COINSWARM_MANUAL_TRADE_SECRET="cold-start-secret-0123456789",
        COINSWARM_PUSH_SECRET="cold-start-push-secret-0123456789",
    )
    source = ROOT / "functions" / name / "gcp.py"
    done = subprocess.run(
        [
            *(sys.executable, "-c", PROBE, str(source), name, ",".join(NOT_CHOSEN)),
            *(STAGE_OF_FUNCTION[name] or "", ",".join(EVERY_STAGE_MODULE)),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    stages = {"import": [], "build": own_modules(name)}  # its own stage's modules, once built; no other's
    assert found == {"import": [], "build": [], "pubsub": True, "stages": stages}
