"""Every error class of Coinswarm's one tree (coinswarm.errors.CoinswarmError and all below it, wherever
it is defined), each with an instance to raise: the tables of the tests that the class alone decides an
HTTP edge's status and the command line's exit code.

The modules that define an error class are found by reading the sources (a class whose base's name ends
in `Error`), so a new class is in the table as soon as it exists. One whose constructor takes more than
a message gets its arguments in SAMPLES; `instance` says so when one is missing.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from coinswarm.errors import CoinswarmError

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "shared" / "coinswarm", ROOT / "functions")

#: How to make an instance of each class whose constructor takes more than a message, by class name.
SAMPLES: dict[str, Callable[[type[Any]], CoinswarmError]] = {
    "SequenceConflictError": lambda cls: cls("ledger", 3, 5),
    "ClaimInProgressError": lambda cls: cls("order:abc", 12),
    "RateLimitedError": lambda cls: cls("coinbase", "rate limited", retry_after=2.0),
    "CircuitOpenError": lambda cls: cls("coinbase", "circuit open", retry_after=30.0),
    "CliError": lambda cls: cls("give --since", 2),
    "CandleFileError": lambda cls: cls("BTC_USD-1m.csv", 7, "the row has 3 fields"),
    "ParquetCandleError": lambda cls: cls("BTC_USD-1m.parquet", 7, "a close below the low"),
    "StateFileBusyError": lambda cls: cls(Path("coinswarm.db"), 4242),
    "OrderRefusedError": lambda cls: cls("INSUFFICIENT_FUND", "not enough USD"),
    "PackageTooLargeError": lambda cls: cls([]),
    "_ConditionFailedError": lambda cls: cls(None),
}
VENUE_ARGS = ("coinbase", "the venue refused")


def _error_modules() -> list[str]:
    names = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            if any(
                isinstance(node, ast.ClassDef)
                and any(ast.unparse(base).split(".")[-1].endswith("Error") for base in node.bases)
                for node in tree.body
            ):
                relative = path.relative_to(ROOT / "shared" if source.name == "coinswarm" else ROOT)
                names.append(".".join(relative.with_suffix("").parts).removesuffix(".__init__"))
    return names


@cache
def every_error_class() -> tuple[type[CoinswarmError], ...]:
    """CoinswarmError and every class below it, once each, by name."""
    for module in _error_modules():
        importlib.import_module(module)
    found: dict[type[CoinswarmError], None] = {}
    todo: list[type[CoinswarmError]] = [CoinswarmError]
    while todo:
        cls = todo.pop()
        if cls not in found and cls.__module__.split(".")[0] in ("coinswarm", "functions"):
            found[cls] = None
            todo.extend(cls.__subclasses__())
    return tuple(sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__)))


def instance(cls: type[CoinswarmError]) -> CoinswarmError:
    """An instance of `cls` to raise."""
    make = SAMPLES.get(cls.__name__)
    if make is not None:
        return make(cls)
    from coinswarm.errors import VenueError

    try:
        return cls(*VENUE_ARGS) if issubclass(cls, VenueError) else cls("something went wrong")
    except TypeError as exc:
        raise AssertionError(
            f"{cls.__qualname__} takes other arguments: add a sample to tests/error_classes.py"
        ) from exc


def name(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
