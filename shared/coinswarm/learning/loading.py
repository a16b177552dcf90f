"""Reading a model for the learned agent, once per process and model version.

Contract: `load_model(where)` returns (artifact, forest), or a one-line reason the agent abstains with
(no model, unreadable, wrong checksum, bad trees). `where` is a file path, or `state:KEY`: the document
KEY of the state store the composition root named with `use_state_store` (where `coinswarm train
--publish` puts the model, so a cloud function reads it without a file in its package).
A file is cached by (path, modification time, size); a document by (key, version), and a cached
document is trusted for `STATE_RECHECK_S` before its version is read again (a model is ~100 KB: one
read per agent built would cost a cloud store's read capacity every cycle).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from coinswarm.learning.artifact import ArtifactError, ModelArtifact, loads, read
from coinswarm.learning.forest import Forest

STATE_PREFIX = "state:"
STATE_RECHECK_S = 600.0

_CACHE: dict[tuple[str, int, int], tuple[ModelArtifact, Forest]] = {}
_STATE: dict[str, Any] = {}  # "store": the state store models are read from, set by the composition root
_STATE_SEEN: dict[str, tuple[float, int]] = {}  # key -> (when its version was last read, that version)


def use_state_store(store: Any) -> None:
    """Where `state:KEY` models are read from (the composition root calls this with its state store)."""
    _STATE["store"] = store


def load_model(where: str) -> tuple[ModelArtifact, Forest] | str:
    if where.startswith(STATE_PREFIX):
        return _from_state(where.removeprefix(STATE_PREFIX))
    p = Path(where).expanduser()
    try:
        st = os.stat(p)
    except FileNotFoundError:
        return f"no model: {p} does not exist (train one with `coinswarm train FILES... --out {p}`)"
    except OSError as exc:
        return f"no model: cannot read {p} ({exc.strerror})"
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    try:
        artifact = read(p)
        loaded = (artifact, artifact.load_forest())
    except ArtifactError as exc:
        return f"no model: {exc}"
    _CACHE[key] = loaded
    return loaded


def _from_state(key: str, now: float | None = None) -> tuple[ModelArtifact, Forest] | str:
    store = _STATE.get("store")
    if store is None:
        return f"no model: no state store to read {STATE_PREFIX}{key} from (a file path works everywhere)"
    now = time.monotonic() if now is None else now
    seen = _STATE_SEEN.get(key)
    if seen is not None and now - seen[0] < STATE_RECHECK_S:
        hit = _CACHE.get((STATE_PREFIX + key, seen[1], 0))
        if hit is not None:
            return hit
    try:
        found = store.get(key)
    except Exception as exc:  # a store that cannot be read now: abstain, the cycle goes on
        return f"no model: cannot read {STATE_PREFIX}{key} ({type(exc).__name__})"
    if found is None:
        return f"no model: nothing at {STATE_PREFIX}{key} (publish one with `coinswarm train FILES... --publish`)"
    cache_key = (STATE_PREFIX + key, int(found.version), 0)
    _STATE_SEEN[key] = (now, int(found.version))
    hit = _CACHE.get(cache_key)
    if hit is not None:
        return hit
    try:
        artifact = loads(json.dumps(found.value), where=f"{STATE_PREFIX}{key}")
        loaded = (artifact, artifact.load_forest())
    except ArtifactError as exc:
        return f"no model: {exc}"
    _CACHE[cache_key] = loaded
    return loaded
