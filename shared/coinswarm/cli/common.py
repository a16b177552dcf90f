"""What the subcommands share: loading the configuration, opening the state file, clean failures."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import ValidationError

from coinswarm.config import ConfigError, Settings, load_settings
from coinswarm.config.loader import explain
from coinswarm.errors import CoinswarmError

META_KEY = "run:meta"
LAST_RUN_FILE = "last-run.json"  # beside store.path: which state file the last `coinswarm run` there used


class CliError(CoinswarmError):
    """A failure the user can fix; printed without a traceback. `exit_code`: the exit status, 2 (a usage
    error) unless the command says otherwise."""

    exit_code = 2

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = code


def fail(message: str, code: int = 2) -> NoReturn:
    raise CliError(message, code)


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (TOML); default: $COINSWARM_CONFIG, else ./coinswarm.toml if present, "
        "else built-in defaults. COINSWARM_* environment variables override it.",
    )


def add_state_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state",
        metavar="PATH",
        help="the SQLite state file (default: the state file of the last `coinswarm run` here, else store.path "
        "of the configuration)",
    )


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        fail(str(exc))
    if overrides:
        data = settings.model_dump()
        for key, value in overrides.items():
            section, _, field = key.partition(".")
            if field:
                data[section][field] = value
            else:
                data[section] = value
        try:
            settings = Settings.model_validate(data)
        except ValidationError as exc:
            fail(f"invalid option: {explain(exc)}")
    return settings


def last_run_record(settings: Settings) -> Path:
    """Where `coinswarm run` notes its state file, beside store.path: the commands after it find it there."""
    return Path(settings.store.path).parent / LAST_RUN_FILE


def remember_last_run(settings: Settings, state: Path) -> None:
    """Note `state` as the last run's state file (written whole, or not at all)."""
    record = last_run_record(settings)
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_name(f"{record.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({"state": str(state.resolve()), "pid": os.getpid()}) + "\n")
    os.replace(partial, record)


def last_run_state(settings: Settings) -> Path | None:
    """The state file the last `coinswarm run` here used, as it noted it (None: no run noted one)."""
    try:
        noted = json.loads(last_run_record(settings).read_text())
        return shown(Path(noted["state"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def shown(path: Path) -> Path:
    """`path` as the user would type it here: relative to the working directory when under it."""
    try:
        return path.relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def chosen_state(args: argparse.Namespace, settings: Settings) -> Path:
    """The state file a command works on: `--state`; else the last run's (so that `status` after `make run`
    shows that run, whichever file its data source gave it); else store.path."""
    if getattr(args, "state", None):
        return Path(args.state)
    last = last_run_state(settings)
    if last is not None and last.exists():
        return last
    return Path(settings.store.path)


def existing_state(args: argparse.Namespace, settings: Settings) -> Path:
    path = chosen_state(args, settings)
    if not path.exists():
        fail(no_state_file(args, settings, path))
    return path


def state_to_write(args: argparse.Namespace, settings: Settings) -> Path:
    """The state file a command writes to (the kill switch): an existing one, found as `existing_state`
    finds it. A file that does not exist yet is created only when `--state` names it, and then the user is
    told so: never an empty account made silently beside the one that was meant."""
    path = chosen_state(args, settings)
    if path.exists():
        return path
    if not getattr(args, "state", None):
        fail(no_state_file(args, settings, path))
    err(f"note: {path} did not exist; it is created now, holding no account and no run yet")
    return path


def no_state_file(args: argparse.Namespace, settings: Settings, path: Path) -> str:
    """Why there is no state file to work on, and exactly which files could be named instead."""
    if getattr(args, "state", None):
        looked = f"no state file at {path}"
    else:
        last = last_run_state(settings)
        gone = f"the last run's {last} is gone, and " if last is not None else ""
        looked = f"no state file: {gone}store.path ({path}) does not exist"
    here = Path(settings.store.path).parent
    found = ", ".join(str(shown(p.resolve())) for p in sorted(here.glob("*.db")))
    there = f"; the state files in {here} are {found}" if found else ""
    return f"{looked}{there}: run `coinswarm run` first, or name the file with --state PATH"


def open_sqlite(path: str | Path, synchronous: Literal["NORMAL", "FULL"] | None = None) -> Any:
    """The state file, or a clean failure naming it. `synchronous`: SQLite's setting (FULL for live)."""
    from coinswarm.adapters.sqlite_store import SqliteStore
    from coinswarm.errors import StoreError

    try:
        return SqliteStore(path) if synchronous is None else SqliteStore(path, synchronous=synchronous)
    except StoreError as exc:
        fail(f"{path} cannot be opened as a state file ({exc}); name the state file of a run with --state PATH")


def settings_for_state(settings: Settings, store: Any) -> Settings:
    """The configuration as the run that wrote this state file used it (symbols and timeframe)."""
    meta = store.get(META_KEY)
    if meta is None:
        return settings
    data = settings.model_dump()
    data["symbols"] = meta.value.get("symbols", data["symbols"])
    data["timeframe"] = meta.value.get("timeframe", data["timeframe"])
    data["account"] = meta.value.get("account", data["account"])
    return Settings.model_validate(data)


@dataclass
class Opened:
    """The stores a read-side command works on, as the configuration places them."""

    where: str  # for the user: "state file PATH", or which service holds each port
    settings: Settings
    state: Any
    history: Any
    coordination: Any
    path: Path | None = None  # the SQLite file, when everything is in it


def in_the_cloud(settings: Settings) -> bool:
    chosen = settings.store
    return any(kind != "default" for kind in (chosen.state, chosen.history, chosen.coordination))


def open_configured(args: argparse.Namespace, settings: Settings) -> Opened:
    """The state file (`--state` or store.path), or, where the configuration puts a port in a cloud
    service (store.state / history / coordination), the adapters it names, reached as configured."""
    if not in_the_cloud(settings):
        path = existing_state(args, settings)
        store = open_sqlite(path)
        settings = settings_for_state(settings, store)
        return Opened(f"state {path}", settings, store, store, store, path)
    from coinswarm.errors import StoreError
    from coinswarm.wiring.bootstrap import open_stores

    chosen = settings.store
    embedded = None
    if "default" in (chosen.state, chosen.history, chosen.coordination):
        embedded = open_sqlite(existing_state(args, settings))
    try:
        stores = open_stores(settings, embedded=embedded)
    except StoreError as exc:
        fail(f"cannot open the configured stores: {exc}")
    where = f"state {chosen.state} · history {chosen.history} · coordination {chosen.coordination}"
    return Opened(where, settings, stores.state, stores.history, stores.coordination)


def err(text: str) -> None:
    print(text, file=sys.stderr)
