"""Cosmos DB (the cosmosdb-server emulator) in the history contract: one fresh database per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servers.cosmos import drop_database, history_store, new_database_name

NAME = "cosmos"
PORTS = ("history",)


def make_store(request: pytest.FixtureRequest, tmp_path: Path, clock: Any) -> Any:
    server = request.getfixturevalue("cosmos_server")
    database = new_database_name()
    request.addfinalizer(lambda: drop_database(server, database))
    return history_store(server, database)
