"""Load `Settings` from a TOML file plus `COINSWARM_*` environment overrides, with errors that name
the field, the value's origin and the reason.

Environment: `COINSWARM_<FIELD>` or `COINSWARM_<SECTION>__<FIELD>` (double underscore between levels),
e.g. `COINSWARM_RISK__MAX_DAILY_LOSS=250`, `COINSWARM_SYMBOLS=BTC-USD,ETH-USD`. A value is read as JSON
when it parses as JSON, as a comma-separated list for list fields, and as a string otherwise.
`COINSWARM_CONFIG` names the file; otherwise `./coinswarm.toml` is used when present.
`COINSWARM_MANUAL_TRADE_SECRET`, `COINSWARM_PUSH_SECRET` and `COINSWARM_QUEUE_URL_<TOPIC>` belong to the
cloud entry points and are not settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from coinswarm.config.settings import Settings

ENV_PREFIX = "COINSWARM_"
ENV_FILE = "COINSWARM_CONFIG"
# Variables for a deployment's plumbing, not settings: read where they are used, never as settings.
NOT_SETTINGS = ("COINSWARM_CONFIG", "COINSWARM_MANUAL_TRADE_SECRET", "COINSWARM_PUSH_SECRET", "COINSWARM_QUEUE_URL_")
DEFAULT_FILE = "coinswarm.toml"
LIST_FIELDS = {"symbols"}
SECRET_WORDS = ("key", "secret", "token", "password")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says which field, from where, and why."""


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    file = _config_file(path, env)
    if file is not None:
        data = _read_toml(file)
        _note_origins(data, (), f"file {file}", origin)
    for key, raw in sorted(env.items()):
        if not key.startswith(ENV_PREFIX) or key.startswith(NOT_SETTINGS):
            continue
        parts = tuple(p.lower() for p in key[len(ENV_PREFIX) :].split("__"))
        if not all(parts):
            raise ConfigError(f"environment variable {key}: empty name between '__' separators")
        _set_path(data, parts, _parse_env_value(parts, raw))
        origin[parts] = f"environment {key}"
    try:
        return Settings.model_validate(data, context=None if file is None else {"config_dir": str(file.parent)})
    except ValidationError as exc:
        raise ConfigError(_explain(exc, origin)) from None


def _config_file(path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"configuration file {p} does not exist")
        return p
    if env.get(ENV_FILE):
        p = Path(env[ENV_FILE])
        if not p.is_file():
            raise ConfigError(f"{ENV_FILE}={p} names no file")
        return p
    p = Path(DEFAULT_FILE)
    return p if p.is_file() else None


def _read_toml(file: Path) -> dict[str, Any]:
    import tomllib  # here, not at import: a function configured by its environment alone never parses TOML

    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {file} is not valid TOML: {exc}") from None


def _note_origins(node: Any, prefix: tuple[str, ...], where: str, origin: dict[tuple[str, ...], str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _note_origins(v, (*prefix, str(k)), where, origin)
    origin[prefix] = where


def _parse_env_value(parts: tuple[str, ...], raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        pass
    if parts[-1] in LIST_FIELDS:
        return [s.strip() for s in raw.split(",") if s.strip()]
    return raw


def _set_path(data: dict[str, Any], parts: tuple[str, ...], value: Any) -> None:
    node = data
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {'.'.join(parts)}: {p} is not a section")
        node = child
    node[parts[-1]] = value


def _explain(exc: ValidationError, origin: dict[tuple[str, ...], str]) -> str:
    lines = ["invalid configuration:"]
    for err in exc.errors():
        loc = tuple(str(x) for x in err["loc"])
        field = ".".join(loc) or "(whole configuration)"
        where = _origin_of(loc, origin)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling; `coinswarm config show` lists every setting)"
        value = err.get("input")
        hidden = isinstance(value, dict) or err["type"] == "extra_forbidden" or _is_secret(loc)
        shown = "" if hidden else f" (got {value!r})"
        lines.append(f"  - {field}: {msg}{shown}{f' [from {where}]' if where else ''}")
    return "\n".join(lines)


def _is_secret(loc: tuple[str, ...]) -> bool:
    return any(word in part for part in loc for word in SECRET_WORDS)


def _origin_of(loc: tuple[str, ...], origin: dict[tuple[str, ...], str]) -> str:
    """Where the value at `loc` came from: its own origin or its section's, else the origins of the
    settings inside it (a whole-section check such as the committee's quorum)."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in origin:
            return origin[loc[:n]]
    inside = sorted({where for path, where in origin.items() if path[: len(loc)] == loc and len(path) > len(loc)})
    return ", ".join(inside)


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, secrets shown as '********' (or null when unset)."""
    return settings.model_dump(mode="json")
