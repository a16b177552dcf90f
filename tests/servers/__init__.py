"""Local stand-ins for the cloud services, started for the test session and stopped after it.

Each module is a pytest plugin (listed in tests/conftest.py) with session-scoped fixtures that start
one server on a free loopback port, wait until it answers, yield how to reach it, and stop it.

A stand-in that is not installed on a developer's machine (no Node.js for the Cosmos DB emulator, no
gcloud CLI or Java for the Google emulators) skips the tests that need it, with a reason that says what
is missing and how to get it. CI sets REQUIRE_LOCAL_SERVERS=1 (see .ci/run): there every stand-in is
present, so a missing one fails the test instead, and any skip at all fails the session.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ENV = "REQUIRE_LOCAL_SERVERS"


def servers_required() -> bool:
    """True where every stand-in must run (CI): nothing may skip for a missing tool."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def missing(reason: str) -> NoReturn:
    """A stand-in is not installed: skip the test saying why, or fail it where servers are required."""
    if servers_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set: here every local server must run)", pytrace=False)
    pytest.skip(reason)
