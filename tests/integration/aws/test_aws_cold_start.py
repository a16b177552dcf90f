"""A cold start loads what the AWS function needs and nothing else: importing an entry point builds
no App and no client, and brings in neither Google's nor Azure's SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENTRY_POINTS = (
    "functions.tick_ingest.aws",
    "functions.agent_scoring.aws",
    "functions.committee_vote.aws",
    "functions.order_placement.aws",
    "functions.trade_logging.aws",
    "functions.manual_trade.aws",
    "functions.push_receiver.aws",
)
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
