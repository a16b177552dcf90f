"""DynamoStore in the contract: hot state and coordination on a moto server (see tests/servers/moto.py).

Each test gets tables of its own (a unique prefix), dropped when it ends; the contract's fake clock
drives the document TTLs and candle retention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servers.moto import drop_dynamo_tables, new_dynamo_store

NAME = "dynamodb"
PORTS = ("state", "coordination")


def make_store(request: pytest.FixtureRequest, tmp_path: Path, clock: Any) -> Any:
    store = new_dynamo_store(request.getfixturevalue("moto_server"), now=clock)
    request.addfinalizer(lambda: drop_dynamo_tables(store))
    return store
