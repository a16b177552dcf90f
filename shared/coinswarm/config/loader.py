"""Load `Settings` from a TOML file plus `COINSWARM_*` environment overrides, with errors that name
the field, the value's origin and the reason.

Environment: `COINSWARM_<FIELD>` or `COINSWARM_<SECTION>__<FIELD>` (double underscore between levels),
e.g. `COINSWARM_RISK__MAX_DAILY_LOSS=250`, `COINSWARM_SYMBOLS=BTC-USD,ETH-USD`. A value is read as JSON
when it parses as JSON, as a comma-separated list for list fields, and as a string otherwise.
`COINSWARM_CONFIG` names the file; otherwise `./coinswarm.toml` is used when present.
A file's top-level `include = ["tuned.toml"]` lays each named file (relative to the including one) over
it, in order: an included file's settings win over the including file's, and the environment wins
over both (`coinswarm optimize --apply` writes such an overlay).
A value that starts like a JSON array or object but does not parse is refused with the place of the
mistake, not read as a string (a PEM key pasted with real line breaks is the usual cause).

No error quotes a secret: a value is quoted only when it is a plain value of a setting that is not
(and holds no) secret, and every message is scrubbed of the secret values it was given besides.
`COINSWARM_MANUAL_TRADE_SECRET`, `COINSWARM_PUSH_SECRET` and `COINSWARM_QUEUE_URL_<TOPIC>` belong to the
cloud entry points and are not settings.
"""

from __future__ import annotations

import functools
import json
import os
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from coinswarm.config.settings import Settings
from coinswarm.errors import CoinswarmError

ENV_PREFIX = "COINSWARM_"
ENV_FILE = "COINSWARM_CONFIG"
# Variables for a deployment's plumbing, not settings: read where they are used, never as settings.
NOT_SETTINGS = ("COINSWARM_CONFIG", "COINSWARM_MANUAL_TRADE_SECRET", "COINSWARM_PUSH_SECRET", "COINSWARM_QUEUE_URL_")
DEFAULT_FILE = "coinswarm.toml"
INCLUDE_KEY = "include"  # a file's top-level list of overlays (coinswarm optimize --apply writes one)
LIST_FIELDS = {"symbols"}
SECRET_WORDS = ("key", "secret", "token", "password")
JSON_STARTS = ("[", "{")
MASK = "********"
_MAX_SHOWN = 80  # a longer value is not quoted: a setting's plain value is short


class ConfigError(CoinswarmError, ValueError):
    """A configuration that cannot be used; the message says which field, from where, and why."""

    exit_code = 2


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    file = _config_file(path, env)
    if file is not None:
        data = _read_with_includes(file, origin, ())
    secrets: set[str] = set()
    for key, raw in sorted(env.items()):
        if not key.startswith(ENV_PREFIX) or key.startswith(NOT_SETTINGS):
            continue
        parts = tuple(p.lower() for p in key[len(ENV_PREFIX) :].split("__"))
        if not all(parts):
            raise ConfigError(f"environment variable {key}: empty name between '__' separators")
        if _holds_secret(parts):
            secrets.add(raw)
        _set_path(data, parts, _parse_env_value(key, parts, raw))
        origin[parts] = f"environment {key}"
    return validate_settings(data, origin, secrets, config_dir=None if file is None else file.parent)


def validate_settings(
    data: Mapping[str, Any],
    origin: Mapping[tuple[str, ...], str] | None = None,
    secrets: Iterable[str] = (),
    *,
    config_dir: Path | None = None,
) -> Settings:
    """`Settings` from plain data, or a ConfigError naming each wrong field (and, from `origin`, where
    its value came from) that quotes no secret: neither one in `data` nor any of `secrets`. The error
    keeps no link to pydantic's (whose text quotes every input), not even as its context. `config_dir`:
    where relative agent file paths are taken from."""
    try:
        return Settings.model_validate(data, context=None if config_dir is None else {"config_dir": str(config_dir)})
    except ValidationError as exc:
        problem = _explain(exc, origin or {})
    raise ConfigError(scrub(problem, {*secrets, *_secret_values(data, ())}))


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


def _read_with_includes(file: Path, origin: dict[tuple[str, ...], str], seen: tuple[Path, ...]) -> dict[str, Any]:
    data = _read_toml(file)
    _note_origins(data, (), f"file {file}", origin)
    includes = data.pop(INCLUDE_KEY, [])
    origin.pop((INCLUDE_KEY,), None)
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(x, str) for x in includes):
        raise ConfigError(f'configuration file {file}: include: give a list of file names, e.g. ["tuned.toml"]')
    for name in includes:
        other = Path(name).expanduser()
        other = other if other.is_absolute() else file.parent / other
        if not other.is_file():
            raise ConfigError(f"configuration file {file}: include {name!r}: no such file ({other})")
        if other.resolve() in {*seen, file.resolve()}:
            raise ConfigError(f"configuration file {file}: include {name!r} includes itself in a circle")
        _merge(data, _read_with_includes(other, origin, (*seen, file.resolve())))
    return data


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> None:
    """`over` laid over `base`: tables merge key by key, any other value replaces."""
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def _note_origins(node: Any, prefix: tuple[str, ...], where: str, origin: dict[tuple[str, ...], str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _note_origins(v, (*prefix, str(k)), where, origin)
    origin[prefix] = where


def _parse_env_value(key: str, parts: tuple[str, ...], raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:  # its `doc` is the whole value: raised below, outside this block
        where = f"{exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}"
    except ValueError:  # e.g. a number too long to convert
        where = ""
    if where and raw.lstrip().startswith(JSON_STARTS):
        hint = (
            "write each line break inside a string (a PEM key's) as \\n"
            if "control character" in where
            else "check its quotes, commas and brackets"
        )
        raise ConfigError(f"environment variable {key} is not valid JSON ({where}): {hint}")
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


def explain(exc: ValidationError) -> str:
    """A configuration's ValidationError in the words the loader uses: each field, what is wrong, and its
    value only when that is short, plain and no secret (never pydantic's own text, which quotes every
    input)."""
    return _explain(exc, {})


def _explain(exc: ValidationError, origin: Mapping[tuple[str, ...], str]) -> str:
    lines = ["invalid configuration:"]
    for err in exc.errors(include_url=False):
        loc = tuple(str(x) for x in err["loc"])
        field = ".".join(loc) or "(whole configuration)"
        where = _origin_of(loc, origin)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling; `coinswarm config show` lists every setting)"
        if err["type"] in ("tuple_type", "list_type"):
            msg = f"give a list: in TOML an array, in {ENV_PREFIX}{'__'.join(loc).upper()} a JSON array"
        value = err.get("input")
        shown = f" (got {value!r})" if _may_show(loc, value) and err["type"] != "extra_forbidden" else ""
        lines.append(f"  - {field}: {msg}{shown}{f' [from {where}]' if where else ''}")
    return "\n".join(lines)


def _may_show(loc: tuple[str, ...], value: Any) -> bool:
    """Quote only a short plain value of a setting that neither is nor holds a secret."""
    if isinstance(value, str):
        return len(value) <= _MAX_SHOWN and "\n" not in value and not _holds_secret(loc)
    return isinstance(value, int | float | bool) and not _holds_secret(loc)


def _is_secret(loc: tuple[str, ...]) -> bool:
    return any(word in part.lower() for part in loc for word in SECRET_WORDS)


def _holds_secret(loc: tuple[str, ...]) -> bool:
    """Whether the setting at `loc` is a secret, lies inside one, or has one inside it (`venues`,
    `venues.0`, `azure`): its value as given may carry the secret."""
    if _is_secret(loc):
        return True
    return any(_matches(path[: len(loc)], loc[: len(path)]) for path in _secret_paths())


def _matches(pattern: tuple[str, ...], loc: tuple[str, ...]) -> bool:
    return all(p == "*" or p == x or (p == "#" and x.isdigit()) for p, x in zip(pattern, loc, strict=True))


@functools.cache
def _secret_paths() -> tuple[tuple[str, ...], ...]:
    """Every secret setting's path: `("venues", "#", "api_key")` (`#`: any index), `("azure", "cosmos_key")`."""
    found: list[tuple[str, ...]] = []

    def walk(model: type[BaseModel], prefix: tuple[str, ...]) -> None:
        for name, info in model.model_fields.items():
            visit(info.annotation, (*prefix, name))

    def visit(annotation: Any, path: tuple[str, ...]) -> None:
        if annotation is SecretStr:
            found.append(path)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            walk(annotation, path)
        else:  # a union, a tuple or list (any index: `#`), a dict (any key: `*`)
            container = typing.get_origin(annotation)
            step = ("#",) if container in (tuple, list) else ("*",) if container is dict else ()
            for arg in typing.get_args(annotation):
                if arg is not Ellipsis:
                    visit(arg, (*path, *step))

    walk(Settings, ())
    return tuple(found)


def _secret_values(node: Any, loc: tuple[str, ...]) -> Iterable[str]:
    """The strings `node` holds at secret settings (and at keys that sound secret)."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _secret_values(v, (*loc, str(k)))
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node):
            yield from _secret_values(v, (*loc, str(i)))
    elif isinstance(node, SecretStr):
        yield node.get_secret_value()
    elif isinstance(node, str) and _is_secret_leaf(loc):
        yield node


def _is_secret_leaf(loc: tuple[str, ...]) -> bool:
    return _is_secret(loc[-1:]) or any(len(path) == len(loc) and _matches(path, loc) for path in _secret_paths())


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret replaced by a mask, however it was quoted there (as is, by `repr` or
    JSON), and each long line of a secret (a PEM key's) too."""
    pieces: set[str] = set()
    for secret in secrets:
        if len(secret) < 4:
            continue
        pieces.update((secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]))
        pieces.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 8)
    for piece in sorted(pieces, key=len, reverse=True):
        if piece:
            text = text.replace(piece, MASK)
    return text


def _origin_of(loc: tuple[str, ...], origin: Mapping[tuple[str, ...], str]) -> str:
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
