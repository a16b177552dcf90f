"""`coinswarm agent`: write a new agent (`new NAME`), list the agents and their parameters (`list`)."""

from __future__ import annotations

import argparse
import keyword
import re
from pathlib import Path

from coinswarm.cli.common import add_config_arg, err, fail, settings_from

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
NEW_HELP = """Write a new agent: DIR/NAME.py, a documented skeleton (a momentum rule to replace with yours),
and DIR/test_NAME.py, its tests (they pass as written). The agent is then used by adding its weight
and its file to the configuration, as the skeleton's docstring shows; no PYTHONPATH is needed."""
NEW_EXAMPLES = """examples:
  coinswarm agent new momentum                  agents/momentum.py and agents/test_momentum.py
  coinswarm agent new breakout --dir my_agents"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("agent", help="write a new agent; list the agents", description="Agents: docs/agents.md.")
    agent_sub = p.add_subparsers(dest="agent_command", required=True, metavar="ACTION")
    new = agent_sub.add_parser(
        "new",
        help="write a documented agent skeleton and its test",
        description=NEW_HELP,
        epilog=NEW_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument("name", metavar="NAME", help="the agent's name: lower case, digits and _ (e.g. momentum)")
    new.add_argument("--dir", default="agents", help="where to write the two files (default: agents)")
    new.set_defaults(func=main_new)
    listing = agent_sub.add_parser(
        "list", help="the built-in and configured agents with their parameters", description="List the agents."
    )
    add_config_arg(listing)
    listing.set_defaults(func=main_list)


def main_new(args: argparse.Namespace) -> int:
    from coinswarm.agent_registry import builtin_names
    from coinswarm.cli.agent_skeleton import AGENT, TEST

    name = args.name
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        fail(f"{name!r} cannot name an agent: use lower case letters, digits and _, starting with a letter")
    if name in builtin_names():
        fail(f"{name!r} is a built-in agent; choose another name")
    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        fail(f"{folder} is a file, not a directory; name another with --dir")
    agent_file, test_file = folder / f"{name}.py", folder / f"test_{name}.py"
    for existing in (agent_file, test_file):
        if existing.exists():
            fail(f"{existing} already exists; nothing was written (choose another NAME or --dir)")
    cls = "".join(part.capitalize() for part in name.split("_") if part) + "Agent"
    values = {"name": name, "cls": cls, "path": agent_file.as_posix(), "test_path": test_file.as_posix()}
    folder.mkdir(parents=True, exist_ok=True)
    agent_file.write_text(AGENT.format(**values))
    test_file.write_text(TEST.format(file=agent_file.name, **values))
    err(f"wrote {agent_file} (the agent) and {test_file} (its tests)")
    print(
        f"""next:
  1. run its tests:  python -m pytest {test_file.as_posix()}
  2. add it to coinswarm.toml (a relative path is taken from the file's directory):
       [committee.weights]
       {name} = 1.0

       [agents.{name}]
       path = "{agent_file.as_posix()}"
  3. try it:  coinswarm backtest CANDLES.csv   (coinswarm agent list shows what is configured)"""
    )
    return 0


def main_list(args: argparse.Namespace) -> int:
    from coinswarm.agent_registry import PATH_KEY, agent_class, builtin_names, parameters

    settings = settings_from(args)
    configured = settings.committee.weights
    names = list(configured) + [n for n in builtin_names() if n not in configured]
    for name in names:
        given = settings.agents.get(name, {})
        cls = agent_class(name, given.get(PATH_KEY))
        weight = configured.get(name)
        status = "not configured" if weight is None else f"weight {weight:g}"
        where = f", from {given[PATH_KEY]}" if PATH_KEY in given else ""
        print(f"{name}  ({status}{where})")
        for param, p in parameters(cls).items():
            value = given.get(param, p.default)
            mark = "" if param not in given else "   (set)"
            print(f"    {param} = {value!r}{mark}")
    return 0
