"""Test-session plugins: the local stand-ins for AWS (moto), Azure Cosmos DB (cosmosdb-server) and
Google Cloud (the gcloud emulators), each started on first use and stopped at the end; and the tiers
(tests/tiers.py), which mark each test by what it needs and give it a timeout.

Where REQUIRE_LOCAL_SERVERS is set (CI), a session with any skipped test fails: every test must run.
Skips are counted from the test reports, which pytest-xdist's workers send to the controller, so the
rule holds with `-n` too.
"""

from __future__ import annotations

import pytest

from servers import REQUIRE_ENV, servers_required

pytest_plugins = ["servers.moto", "servers.cosmos", "servers.gcloud", "tiers"]

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not servers_required() or hasattr(session.config, "workerinput"):  # an xdist worker: the controller counts
        return
    if _skipped and exitstatus == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")  # after the progress line
            reporter.write_sep(
                "=",
                f"FAILED: {len(_skipped)} test(s) skipped, and {REQUIRE_ENV} says none may (reasons below)",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
