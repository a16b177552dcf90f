"""The test tiers: each test is marked by what it needs, and the marks are derived here, not written by hand.

Marks (see docs/testing.md):

* `moto`, `cosmos`, `gcloud`, `terraform`: the test uses that local stand-in (its session fixture, directly,
  through another fixture, or fetched by name with `request.getfixturevalue("...")`). Each also adds `server`.
* `subprocess`: the test starts a process: a fresh interpreter, the installed `coinswarm` script, pip,
  functions-framework, terraform, a `multiprocessing` child. Found by reading the code the test runs from
  tests/ (its function, its fixtures and the helpers they name); `@pytest.mark.subprocess` on a test
  says it where reading cannot see it (a process started deep in the product, such as pip).

`make check` runs `-m "not server and not subprocess"`; `make test` runs everything.

The reading is checked while the tests run: a test that starts a process without the `subprocess` mark
(or a stand-in without the `server` mark) fails, saying so, so `make check` can never quietly slow down
and a wrong derivation is fixed here, once.

Under `--dist loadgroup` (make test, make check) a module's tests run together on one worker, in order, as
they do in one process: module-scoped fixtures (the Step Functions tests' moto configuration, a module's
built zips) are set up once, and no other module's test runs while they hold moto's shared settings.
The tests of gcloud and of terraform each keep to one worker (ONE_WORKER).

Each test gets a timeout (pytest-timeout): `timeout` in pyproject.toml by default, SERVER_TIMEOUT_S for
the tests of a stand-in (their first test also waits for its start), TERRAFORM_TIMEOUT_S for Terraform.
A test raises its own with `@pytest.mark.timeout(seconds)`.
"""

from __future__ import annotations

import _posixsubprocess
import functools
import os
import platform
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent

SERVER_FIXTURES = {
    "moto_server": "moto",
    "sfn_moto_server": "moto",
    "cosmos_server": "cosmos",
    "firestore_emulator": "gcloud",
    "pubsub_emulator": "gcloud",
    "terraform": "terraform",
    "checkov": "terraform",
}
SERVERS = frozenset(SERVER_FIXTURES.values())
SPAWNING_MODULES = frozenset({"subprocess", "multiprocessing", "asyncio.subprocess", "pty"})
SPAWNING_ATTRIBUTES = frozenset({"Popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "ProcessPoolExecutor"})

# Under `--dist loadgroup`, the tests of these stand-ins all run on one worker: one pair of
# Java emulators instead of one per worker, and one `terraform init` of the example.
ONE_WORKER = ("terraform", "gcloud")

SERVER_TIMEOUT_S = 300
TERRAFORM_TIMEOUT_S = 1200

MARKS = {
    "server": "needs a local stand-in for a cloud service (derived: one of moto, cosmos, gcloud, terraform)",
    "moto": "uses the moto server (derived from its fixtures)",
    "cosmos": "uses the Cosmos DB emulator (derived from its fixtures)",
    "gcloud": "uses a Google Cloud emulator (derived from its fixtures)",
    "terraform": "runs terraform or checkov (derived from their fixtures)",
    "subprocess": "starts a process or a fresh interpreter (derived from the test's code, or written by hand)",
    "timeout(seconds)": "pytest-timeout: this test's limit",
}


# -- deriving the marks ---------------------------------------------------------------------------------


def needs(item: pytest.Item) -> set[str]:
    """The marks `item` needs: the stand-ins it uses and `subprocess` where it starts a process."""
    found: set[str] = set()
    fixtures = set(getattr(item, "fixturenames", ()))
    params = _params(item)
    code = _Reader(params)
    function = getattr(item, "function", None)
    if function is not None:
        code.read(function)
    info = getattr(item, "_fixtureinfo", None)
    for name in fixtures:
        for definition in info.name2fixturedefs.get(name, ()) if info is not None else ():
            code.read(definition.func)
    fixtures |= _closure(item, code)
    found |= {SERVER_FIXTURES[name] for name in fixtures if name in SERVER_FIXTURES}
    if code.spawns:
        found.add("subprocess")
    if found & SERVERS:
        found.add("server")
    return found


def _closure(item: pytest.Item, code: _Reader) -> set[str]:
    """The fixtures fetched by name (`request.getfixturevalue`), with the fixtures they use, read too."""
    manager = item.session._fixturemanager
    found: set[str] = set()
    todo = list(code.fetched)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for definition in manager.getfixturedefs(name, item) or ():
            code.read(definition.func)
            todo += [*definition.argnames, *code.fetched]
    return found


def _params(item: pytest.Item) -> set[object]:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return set()
    return {value for value in callspec.params.values() if isinstance(value, str | int)}


class _Reader:
    """Reads the code a test runs from tests/: the functions and classes its code names, transitively.

    A dict it names is read only at the keys that are the test's parameters (the contract's adapters
    are a dict of factories, one per parameter); anything outside tests/ is not read."""

    def __init__(self, params: set[object]) -> None:
        self.params = params
        self.spawns = False
        self.fetched: set[str] = set()
        self._seen: set[int] = set()

    def read(self, obj: Any) -> None:
        if id(obj) in self._seen:
            return
        self._seen.add(id(obj))
        if isinstance(obj, types.ModuleType):
            self.spawns |= obj.__name__ in SPAWNING_MODULES
        elif isinstance(obj, dict):
            for key in self.params:
                if key in obj:
                    self.read(obj[key])
        elif isinstance(obj, type) or callable(obj):
            module = getattr(obj, "__module__", "") or ""
            if module.split(".")[0] in SPAWNING_MODULES or module in SPAWNING_MODULES:
                self.spawns = True
            elif _in_tests(obj):
                self._read_definition(obj)

    def _read_definition(self, obj: Any) -> None:
        if isinstance(obj, type):
            for member in vars(obj).values():
                function = getattr(member, "__func__", member)
                if isinstance(function, types.FunctionType):
                    self.read(function)
            return
        function = getattr(obj, "__wrapped__", obj)
        code = getattr(function, "__code__", None)
        if code is None:
            return
        scope = getattr(function, "__globals__", {})
        for names, constants in _all_names(code):
            if names & (SPAWNING_ATTRIBUTES | SPAWNING_MODULES):  # `subprocess.run`, `import subprocess`, `.Popen`
                self.spawns = True
            if "getfixturevalue" in names:
                self.fetched |= {c for c in constants if isinstance(c, str) and c.isidentifier()}
            for name in names:
                if name in scope:
                    self.read(scope[name])


def _all_names(code: types.CodeType) -> Iterator[tuple[set[str], tuple[object, ...]]]:
    """The names and constants of `code` and of every function, lambda and comprehension inside it."""
    yield set(code.co_names), code.co_consts
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _all_names(constant)


def _in_tests(obj: Any) -> bool:
    code = getattr(getattr(obj, "__wrapped__", obj), "__code__", None)
    if code is not None:
        return _under_tests(code.co_filename)
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    return _under_tests(getattr(module, "__file__", None) or "")


@functools.cache
def _under_tests(filename: str) -> bool:
    return bool(filename) and Path(filename).resolve().is_relative_to(TESTS)


# -- the plugin -------------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if config.getoption("dist", "no") == "loadgroup":
        # the groups go out in the order collection leaves them (see _schedule), not re-sorted by size
        config.option.loadscopereorder = False
    _collect_backwards_on_odd_workers(config)
    # platform.processor() (and platform.platform(), which the cloud SDKs call for their user agents) starts
    # `uname -p` the first time a process asks, and keeps the answer. Asked here, before the watch: otherwise
    # whichever test asked first in a worker was charged with that process, an accident of the test order.
    platform.processor()
    _watch_spawns()


def _collect_backwards_on_odd_workers(config: pytest.Config) -> None:
    """Every pytest-xdist worker imports every test file, and with them ~2,000 modules of the dev extras. In
    a fresh clone none of those is compiled yet, and two workers importing them in the same order compile
    each one twice, side by side. Half the workers walk tests/ from its last folder to its first instead,
    so each finds much of what the other has compiled already (a fresh clone's collection: ~35 s of CPU
    over two workers -> ~28 s). The tests come out in the usual order all the same (_in_collection_order):
    pytest-xdist requires every worker to collect the same tests in the same order."""
    worker = str(getattr(config, "workerinput", {}).get("workerid", ""))
    if not worker.startswith("gw") or int(worker[2:] or 0) % 2 == 0:
        return
    if [Path(arg).resolve() for arg in config.args] != [TESTS]:  # only the whole suite, not tests named
        return
    entries = [p for p in TESTS.iterdir() if (p.is_dir() and p.name[0] not in "_.") or p.match("test_*.py")]
    config.args[:] = [str(p) for p in sorted(entries, reverse=True)]


def _in_collection_order(item: pytest.Item) -> tuple[str, ...]:
    """pytest's own order: files and folders by name at each level, depth first (sorted is stable, so a
    file's tests keep theirs)."""
    try:
        return item.path.relative_to(TESTS).parts
    except ValueError:
        return item.path.parts


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # a pytest-xdist worker, which may have collected backwards
        items.sort(key=_in_collection_order)
    for item in items:
        derived = needs(item)
        for name in sorted(derived - {m.name for m in item.iter_markers()}):
            item.add_marker(name)
        if item.get_closest_marker("xdist_group") is None:
            group = next((g for g in ONE_WORKER if g in derived), None) or item.path.relative_to(TESTS).as_posix()
            item.add_marker(pytest.mark.xdist_group(group))
        if item.get_closest_marker("timeout") is None and (derived & SERVERS):
            limit = TERRAFORM_TIMEOUT_S if "terraform" in derived else SERVER_TIMEOUT_S
            item.add_marker(pytest.mark.timeout(limit))
    if config.getoption("loadgroup", False):  # an xdist worker of `--dist loadgroup`
        items[:] = _schedule(items)


def _group(item: pytest.Item) -> str:
    return str(item.get_closest_marker("xdist_group").args[0])  # type: ignore[union-attr]


def _schedule(items: list[pytest.Item]) -> list[pytest.Item]:
    """The order the groups go out in: the ONE_WORKER groups first (Terraform's apply on moto is the
    longest group by far, and much of it waits on terraform and moto, so it starts at once), then the
    others largest first, each group's tests kept in their order. A worker holds its next group while it
    runs one, so the second-largest group lands beside Terraform, not behind it."""
    size: dict[str, int] = {}
    for item in items:
        size[_group(item)] = size.get(_group(item), 0) + 1
    first = {group: rank for rank, group in enumerate(ONE_WORKER)}
    return sorted(items, key=lambda item: (first.get(_group(item), len(first)), -size[_group(item)]))


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook, on the controller, as each worker ends collection
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """pytest-xdist carries a test's group in its node id (`id@group`). Where that did not take (a pytest it
    does not work with), every test would go out alone: Terraform's apply and the emulators once per worker."""
    if node.config.getoption("dist", "no") == "loadgroup" and any("@" not in nodeid for nodeid in ids):
        pytest.exit(
            "pytest-xdist's --dist loadgroup did not group the tests (no @group in their node ids): this pytest "
            "and pytest-xdist do not work together (pytest-xdist#1386). Install the versions the dev extras of "
            "pyproject.toml allow: `make clean`, then `make check` or `make test`.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


# -- checking the marks while the tests run ------------------------------------------------------------

_current: list[pytest.Item] = []
_spawned: dict[str, list[str]] = {}


def _watch_spawns() -> None:
    """Wrap the calls every process start goes through (subprocess, multiprocessing, os.fork and
    posix_spawn), noting which test started one; the process itself starts as usual."""
    if getattr(_posixsubprocess.fork_exec, "_coinswarm_watched", False):
        return

    def watched(original: Callable[..., Any], describe: Callable[..., str]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if _current:
                _spawned.setdefault(_current[-1].nodeid, []).append(describe(*args))
            return original(*args, **kwargs)

        call._coinswarm_watched = True  # type: ignore[attr-defined]
        return call

    def argv(*args: Any) -> str:
        first = args[0] if args else None
        if isinstance(first, list | tuple) and first:
            return os.fsdecode(first[0])
        return os.fsdecode(first) if isinstance(first, str | bytes) else "a process"

    _posixsubprocess.fork_exec = watched(_posixsubprocess.fork_exec, argv)  # multiprocessing's spawn
    if hasattr(subprocess, "_fork_exec"):  # subprocess keeps its own reference
        subprocess._fork_exec = watched(subprocess._fork_exec, argv)
    for name in ("posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            setattr(os, name, watched(getattr(os, name), argv))
    os.fork = watched(os.fork, lambda *a: "os.fork()")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    _current.append(item)
    try:
        return (yield)
    finally:
        _current.pop()
        _spawned.pop(item.nodeid, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """A passing test that started a process without the `subprocess` mark fails (at its call, or at its
    teardown for a process its fixtures started there), naming what it started."""
    report: pytest.TestReport = yield
    marked = item.get_closest_marker("subprocess") or item.get_closest_marker("server")
    if call.when == "setup" or report.failed or marked:
        return report
    started = _spawned.pop(item.nodeid, None)
    if not started:
        return report
    report.outcome = "failed"
    report.longrepr = (
        f"{item.nodeid} started {len(started)} process(es) ({', '.join(sorted(set(started)))}) but is not marked "
        "`subprocess`, so `make check` would run it. The mark is derived in tests/tiers.py from the code the test "
        "runs from tests/; where that cannot see the process (one started inside the product), mark the test "
        "`@pytest.mark.subprocess`."
    )
    return report
