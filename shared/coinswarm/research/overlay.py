"""`coinswarm optimize --apply FILE`: the chosen parameters as a TOML overlay.

Contract: `write_overlay(path, params, note)` writes `params` (dotted paths, research/space.py) as
TOML tables that `include = ["FILE"]` in coinswarm.toml lays over the configuration
(config/loader.py); `read_overlay` reads them back as dotted paths. Written whole, or not at all.
`overlay_params(settings, chosen)` is what to write: the chosen values, and the committee's whole
weights table when a weight was searched (an include merges tables key by key, but a weights table
given in a file replaces the default committee).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coinswarm.config.settings import Settings
from coinswarm.research.space import nested, with_params

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if BARE_KEY.match(k) else '"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"{v} cannot be a setting")
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ValueError(f"{v!r} is not a value a TOML overlay can hold")


def to_toml(params: Mapping[str, Any], note: str = "") -> str:
    lines = [f"# {line}" for line in note.splitlines()]

    def table(prefix: list[str], node: Mapping[str, Any]) -> None:
        leaves = [(k, v) for k, v in node.items() if not isinstance(v, dict) and v is not None]
        if leaves:
            if prefix:
                lines.append(f"\n[{'.'.join(_key(p) for p in prefix)}]")
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in leaves)
        for k, v in node.items():
            if isinstance(v, dict):
                table([*prefix, k], v)

    table([], nested(params))
    return "\n".join(lines).lstrip("\n") + "\n"


def overlay_params(settings: Settings, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params`, with the committee's whole weights table when any weight was searched: a TOML table
    that names some agents would otherwise drop the others from the committee."""
    out = dict(params)
    if any(k.startswith("committee.weights.") for k in params):
        for name, weight in with_params(settings, params).committee.weights.items():
            out.setdefault(f"committee.weights.{name}", weight)
    return out


def write_overlay(path: str | Path, params: Mapping[str, Any], note: str = "") -> Path:
    out = Path(path)
    text = to_toml(params, note)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # a configuration file like any other (mkstemp makes it private)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def read_overlay(path: str | Path) -> dict[str, Any]:
    import tomllib

    with Path(path).open("rb") as fh:
        data = tomllib.load(fh)
    out: dict[str, Any] = {}

    def walk(prefix: list[str], node: Mapping[str, Any]) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                walk([*prefix, k], v)
            else:
                out[".".join([*prefix, k])] = v

    walk([], data)
    return out
