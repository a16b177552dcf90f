"""The import contract: layers point inward (shared/coinswarm/__init__.py, DESIGN.md).

* the domain (coinswarm.domain) imports only itself, the standard library but its I/O modules, and
  pydantic: no adapter, no SDK, no httpx, no files, sockets, processes, clocks or logs;
* the stages (coinswarm.stages) import the domain, the ports, the configuration, the error tree
  (coinswarm.errors, which every layer shares), logging and themselves: no adapter, no venue client,
  no SDK.

Every import counts, wherever it is written (inside a function, under TYPE_CHECKING). It is a test, read
with `ast` rather than an import-linter contract, so that it runs in `make check` and `make test` with
nothing more to install, and so that a breach names the file, the line and what to do.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "shared"

# Standard-library modules that reach outside the process (files, network, processes, the clock, logs).
IO_MODULES = frozenset(
    {
        "asyncio", "concurrent", "dbm", "ftplib", "glob", "gzip", "http", "io", "logging", "mmap",
        "multiprocessing", "os", "pathlib", "select", "selectors", "shelve", "shutil", "signal", "smtplib",
        "socket", "socketserver", "sqlite3", "ssl", "subprocess", "sys", "tarfile", "tempfile", "threading",
        "time", "urllib", "zipfile",
    }
)  # fmt: skip
THIRD_PARTY_IN_DOMAIN = frozenset({"pydantic", "pydantic_core", "typing_extensions", "annotated_types"})


@dataclass(frozen=True)
class Rule:
    layer: str  # a package: its modules are checked
    own: frozenset[str]  # the coinswarm packages it may import
    third_party: frozenset[str]  # the distributions' top-level modules it may import
    io: bool  # whether it may import the standard library's I/O modules
    why: str


RULES = (
    Rule(
        "coinswarm.domain",
        frozenset({"coinswarm.domain"}),
        THIRD_PARTY_IN_DOMAIN,
        False,
        "the domain imports no adapter, SDK or I/O: give it the values, or put the I/O behind a port",
    ),
    Rule(
        "coinswarm.stages",
        frozenset({"coinswarm.domain", "coinswarm.ports", "coinswarm.stages", "coinswarm.config", "coinswarm.errors"}),
        THIRD_PARTY_IN_DOMAIN,
        True,
        "a stage imports no adapter: it gets one through a port, chosen by the composition root (coinswarm.wiring)",
    ),
)


@dataclass(frozen=True)
class Breach:
    file: Path
    where: str  # the file's path under shared/
    line: int
    imported: str
    rule: Rule

    def __str__(self) -> str:
        return f"{self.where}:{self.line} imports {self.imported}: {self.rule.why}"


def imports(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module) of every import in the file; relative ones resolved against `package`."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module != "__future__":
                yield node.lineno, module


def allowed(module: str, rule: Rule) -> bool:
    top = module.split(".")[0]
    if top == "coinswarm":
        return any(module == own or module.startswith(own + ".") for own in rule.own)
    if top in sys.stdlib_module_names:
        return rule.io or top not in IO_MODULES
    return top in rule.third_party


def breaches(root: Path, rules: tuple[Rule, ...] = RULES) -> list[Breach]:
    found = []
    for rule in rules:
        folder = root.joinpath(*rule.layer.split("."))
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            package = ".".join(parts if parts[-1] == "__init__" else parts[:-1]).removesuffix(".__init__")
            where = path.relative_to(root).as_posix()
            found += [Breach(path, where, n, m, rule) for n, m in imports(path, package) if not allowed(m, rule)]
    return found


def test_the_layers_import_only_inward() -> None:
    found = breaches(LIBRARY)
    assert not found, "layer contract broken:\n" + "\n".join(map(str, found))


def test_the_contract_catches_an_adapter_an_sdk_and_io(tmp_path: Path) -> None:
    """The checker itself: each kind of breach, written as a layer might, is found with its line."""
    domain = tmp_path / "coinswarm" / "domain"
    stages = tmp_path / "coinswarm" / "stages"
    for folder in (domain, stages):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    (domain / "bad.py").write_text(
        "from __future__ import annotations\n"
        "import math\n"
        "from .models import Candle\n"  # itself: fine
        "import httpx\n"
        "def f():\n"
        "    import sqlite3\n"
        "    from ..adapters import sqlite_store\n"
    )
    (stages / "bad.py").write_text(
        "import logging\nfrom coinswarm.ports.state import StateStore\nfrom coinswarm.venues.coinbase import X\n"
    )
    found = {(b.file.name, b.line, b.imported) for b in breaches(tmp_path)}
    assert found == {
        ("bad.py", 4, "httpx"),
        ("bad.py", 6, "sqlite3"),
        ("bad.py", 7, "coinswarm.adapters"),
        ("bad.py", 3, "coinswarm.venues.coinbase"),
    }
