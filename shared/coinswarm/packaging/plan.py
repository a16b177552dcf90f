"""What goes into one function's package: its sources (the entry point and the `functions` modules it
imports, the shared library) and the requirements its cloud and the configured adapters need."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from coinswarm.config.deploy import Cloud
from coinswarm.config.settings import Settings
from coinswarm.errors import CoinswarmError

CLOUDS: tuple[Cloud, ...] = ("aws", "gcp")
CLOUD_REQUIREMENTS: dict[Cloud, tuple[str, ...]] = {
    "aws": ("aws-lambda-powertools",),  # Logger, the SQS batch utility, idempotency
    "gcp": ("functions-framework", "google-cloud-pubsub"),  # the entry points, the bus (and google-auth)
}
RUNTIME_PROVIDED: dict[Cloud, frozenset[str]] = {
    # The Lambda Python runtime ships boto3 and botocore; the adapters' calls (DynamoDB, SQS, SSM)
    # are years old, so the runtime's copy serves and the zip stays ~15 MB lighter.
    "aws": frozenset({"boto3", "botocore"}),
    "gcp": frozenset(),
}
BUS_REQUIREMENTS: dict[Cloud, tuple[str, ...]] = {"aws": ("boto3",), "gcp": ()}  # SqsBus / PubSubBus
ADAPTER_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "dynamodb": ("boto3",),
    "firestore": ("google-cloud-firestore",),
    "cosmos": ("azure-cosmos",),
}
# Subpackages of coinswarm a function never runs: this build tool, and the fake exchange (a local server for
# tests and rehearsals, `coinswarm fake-exchange`). Function zips hold only what runs in the cloud.
LIBRARY_EXCLUDED = ("packaging", "venues/fake")


class PackagingError(CoinswarmError):
    """A package cannot be planned or built; the message says what is wrong and what to do."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    if match is None:
        raise PackagingError(f"pyproject.toml: cannot read the requirement {spec!r}")
    return canonical(match.group(1))


def project_requirements(root: Path) -> dict[str, str]:
    """Every requirement pyproject.toml names (dependencies and extras), by canonical name."""
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise PackagingError(f"cannot read the [project] table of {root / 'pyproject.toml'}: {exc}") from None
    specs = [*project.get("dependencies", ())]
    for extra in project.get("optional-dependencies", {}).values():
        specs += [s for s in extra if not s.startswith("coinswarm")]
    return {requirement_name(s): s.strip() for s in specs}


LIVE_REQUIREMENTS = ["cryptography"]


def core_requirements(root: Path) -> list[str]:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return [requirement_name(s) for s in project.get("dependencies", ())]


def requirement_names(cloud: Cloud, settings: Settings, root: Path) -> list[str]:
    """The distributions a function on `cloud` needs under `settings`, minus what the runtime provides."""
    store = settings.store
    adapters = {store.state, store.coordination, store.history} - {"default"}
    names = [*core_requirements(root), *CLOUD_REQUIREMENTS[cloud], *BUS_REQUIREMENTS[cloud]]
    for adapter in sorted(adapters):
        names += ADAPTER_REQUIREMENTS[adapter]
    if settings.mode == "live":
        names += LIVE_REQUIREMENTS  # the venue clients sign requests (Coinbase CDP keys: ES256)
    return sorted({canonical(n) for n in names} - RUNTIME_PROVIDED[cloud])


def requirements(cloud: Cloud, settings: Settings, root: Path, *, pin: bool = True) -> list[str]:
    """`requirement_names` as pip requirement lines: pyproject.toml's range, pinned to the version
    installed here (the one the tests ran with) when `pin` and it satisfies the range."""
    declared = project_requirements(root)
    lines = []
    for name in requirement_names(cloud, settings, root):
        if name not in declared:
            raise PackagingError(f"{name} is needed on {cloud} but pyproject.toml does not declare it; add it there")
        lines.append(_pinned(declared[name]) if pin else declared[name])
    return lines


def _pinned(spec: str) -> str:
    from packaging.requirements import Requirement

    req = Requirement(spec)
    try:
        version = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return spec
    if not req.specifier.contains(version, prereleases=True):
        return spec
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}=={version}"


def environment_constraints() -> list[str]:
    """`name==version` of every distribution installed here but coinswarm: the transitive
    dependencies resolve to what the tests ran with, and a rebuild to the same wheels."""
    pins = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonical(name) != "coinswarm":
            pins[canonical(name)] = f"{canonical(name)}=={dist.version}"
    return [pins[n] for n in sorted(pins)]


# -- sources ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """How the cloud calls the function: the module and the attribute in it."""

    module: str
    attribute: str

    @property
    def handler(self) -> str:
        return f"{self.module}.{self.attribute}"


def entry(function: str, cloud: Cloud) -> Entry:
    # Lambda: functions.<name>.aws.handler; Cloud Functions: main.<name>, re-exported from functions.<name>.gcp
    return Entry(f"functions.{function}.{cloud}", "handler" if cloud == "aws" else function)


def function_sources(root: Path, function: str, cloud: Cloud) -> dict[str, Path]:
    """The `functions` modules the entry point imports (transitively) and their packages' __init__
    files, by archive name. PackagingError when the entry module or its attribute is missing."""
    target = entry(function, cloud)
    start = _module_file(root, target.module)
    if start is None:
        raise PackagingError(f"{function} has no {cloud} entry point: {target.module.replace('.', '/')}.py is missing")
    if not _defines(start, target.attribute):
        raise PackagingError(f"{start.relative_to(root)} defines no top-level {target.attribute!r} for {cloud} to call")
    found: dict[str, Path] = {}
    todo = [target.module]
    while todo:
        module = todo.pop()
        path = _module_file(root, module)
        if path is None or path.relative_to(root).as_posix() in found:
            continue
        found[path.relative_to(root).as_posix()] = path
        parts = module.split(".")
        for i in range(1, len(parts)):
            init = root.joinpath(*parts[:i], "__init__.py")
            if init.is_file():
                found[init.relative_to(root).as_posix()] = init
        todo += [m for m in _imported_modules(path) if m.split(".")[0] == "functions"]
    return found


def library_sources(root: Path) -> dict[str, Path]:
    """shared/coinswarm as the package `coinswarm` at the archive root: every file but caches and
    the subpackages in LIBRARY_EXCLUDED."""
    base = root / "shared"
    library = base / "coinswarm"
    if not (library / "__init__.py").is_file():
        raise PackagingError(f"no shared library at {library}: run from a Coinswarm checkout (or pass --root)")
    files = {}
    for path in sorted(library.rglob("*")):
        rel = path.relative_to(base)
        if path.is_file() and not _is_cache(rel) and not _excluded(rel):
            files[rel.as_posix()] = path
    return files


def _excluded(rel: Path) -> bool:
    inside = rel.relative_to("coinswarm")
    return any(inside.is_relative_to(subpackage) for subpackage in LIBRARY_EXCLUDED)


def _is_cache(rel: Path) -> bool:
    return "__pycache__" in rel.parts or rel.suffix in {".pyc", ".pyo"}


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defines(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
    return False


def _imported_modules(path: Path) -> Iterator[str]:
    """Every module an import in the file may load: `from a.b import c` yields a.b and a.b.c."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
