"""Test-session plugins: the local stand-ins for AWS (moto), Azure Cosmos DB (cosmosdb-server) and
Google Cloud (the gcloud emulators), each started on first use and stopped at the end.

Where REQUIRE_LOCAL_SERVERS is set (CI), a session with any skipped test fails: every test must run.
"""

from __future__ import annotations

import pytest

from servers import REQUIRE_ENV, servers_required

pytest_plugins = ["servers.moto", "servers.cosmos", "servers.gcloud"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not servers_required():
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if skipped and exitstatus == 0:
        if reporter is not None:
            reporter.write_line(
                f"FAILED: {skipped} test(s) skipped, and {REQUIRE_ENV} says none may (see the skip reasons above)",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
