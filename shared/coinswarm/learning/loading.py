"""Reading a model for the learned agent, once per process and file version.

Contract: `load_model(path)` returns (artifact, forest), or a one-line reason the agent abstains with
(no file, unreadable, wrong checksum, bad trees). The result is cached by (path, modification time,
size), so every symbol's agent shares one parsed model and a retrained file is picked up by the next
agent built (a new cycle in the cloud, a new run locally).
"""

from __future__ import annotations

import os
from pathlib import Path

from coinswarm.learning.artifact import ArtifactError, ModelArtifact, read
from coinswarm.learning.forest import Forest

_CACHE: dict[tuple[str, int, int], tuple[ModelArtifact, Forest]] = {}


def load_model(path: str) -> tuple[ModelArtifact, Forest] | str:
    p = Path(path).expanduser()
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
