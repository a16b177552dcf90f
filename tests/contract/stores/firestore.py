"""Firestore on the gcloud emulator, in the store contract for hot state and coordination.

Every test gets its own collection prefix on one shared client, so tests never see each other's data.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from coinswarm.adapters.firestore_store import FirestoreStore

NAME = "firestore"
PORTS = ("state", "coordination")


def make_store(request: pytest.FixtureRequest, tmp_path: Path, clock: Any) -> FirestoreStore:
    client = request.getfixturevalue("firestore_session_client")
    return FirestoreStore(client, f"contract-{uuid.uuid4().hex[:16]}", now=clock)
