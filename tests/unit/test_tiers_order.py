"""The tiers plugin's collection order under pytest-xdist: odd workers walk tests/ backwards (so that two
workers of a fresh clone compile different modules first), and every worker hands on pytest's own order."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _pytest.pathlib import scandir

import tiers


def pytests_walk(directory: Path) -> list[Path]:
    """The test files in the order pytest's directory collectors visit them (its own scandir: by name)."""
    out: list[Path] = []
    for entry in scandir(directory):
        path = Path(entry.path)
        if entry.is_dir() and entry.name[0] not in "_.":
            out += pytests_walk(path)
        elif entry.is_file() and path.match("test_*.py"):
            out.append(path)
    return out


def test_sorting_gives_pytests_order_back_and_keeps_each_files_tests_in_theirs() -> None:
    files = pytests_walk(tiers.TESTS)
    assert len(files) > 100
    items = [SimpleNamespace(path=path, n=n) for path in files for n in range(3)]
    shuffled = items[::-1]
    random.Random(7).shuffle(shuffled)
    by_file: dict[Path, list[Any]] = {}
    for item in shuffled:
        by_file.setdefault(item.path, []).append(item)
    restored = [item for path in files for item in by_file[path]]  # each file's items in their shuffled order
    assert sorted(shuffled, key=tiers._in_collection_order) == restored  # type: ignore[arg-type]
    assert [i.path for i in sorted(items, key=tiers._in_collection_order)] == [i.path for i in items]  # type: ignore[arg-type]


def config(worker: str | None, args: list[str]) -> Any:
    cfg = SimpleNamespace(args=list(args))
    if worker is not None:
        cfg.workerinput = {"workerid": worker}
    return cfg


def test_odd_workers_walk_the_whole_suite_backwards_and_reach_every_test_file() -> None:
    odd = config("gw1", [str(tiers.TESTS)])
    tiers._collect_backwards_on_odd_workers(odd)
    folders = [Path(a) for a in odd.args]
    assert [p.name for p in folders] == sorted((p.name for p in folders), reverse=True)
    reached = {f for p in folders for f in (pytests_walk(p) if p.is_dir() else [p])}
    assert reached == set(pytests_walk(tiers.TESTS))


def test_even_workers_a_single_process_and_named_tests_keep_their_arguments() -> None:
    for worker, args in [
        ("gw0", [str(tiers.TESTS)]),
        ("gw2", [str(tiers.TESTS)]),
        (None, [str(tiers.TESTS)]),
        ("gw1", [str(tiers.TESTS / "unit")]),
        ("gw1", [str(tiers.TESTS / "unit"), str(tiers.TESTS / "venues")]),
    ]:
        cfg = config(worker, args)
        tiers._collect_backwards_on_odd_workers(cfg)
        assert cfg.args == args, (worker, args)
