"""Find, describe, check and build the configured agents.

An agent is named in `[committee.weights]` in one of three ways (docs/agents.md):
- a built-in name: `trend` is the module `coinswarm.domain.agents.trend`, its `AGENT`;
- `package.module:Class`: a class in an installed module;
- any name NAME with `[agents.NAME] path = "agents/momentum.py"` (or `"...py:Class"`): a Python file,
  loaded by its path. Without `:Class` the file's `AGENT` is taken, or else the one agent class it
  defines. A relative path is relative to the configuration file's directory (to the working directory
  when no file is read).

The other keys of `[agents.NAME]` are the agent's parameters: its constructor's keyword arguments.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from coinswarm.domain.agents.base import Agent
from coinswarm.errors import CoinswarmError

BUILTIN_PACKAGE = "coinswarm.domain.agents"
NOT_AGENTS = ("base",)
# Built-in agents that read something besides candles (a model file), so they live outside the domain.
ELSEWHERE = {"learned": "coinswarm.learning.agent"}
PATH_KEY = "path"  # in [agents.NAME]: where the agent's file is; never a parameter
_FILE_MODULES = "coinswarm_agent_file_"


class UnknownAgentError(CoinswarmError, ValueError):
    """An agent that cannot be found or built. `loc` is the configuration setting at fault:
    ("committee", "weights", NAME) or ("agents", NAME[, PARAM])."""

    def __init__(self, message: str, loc: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc

    @property
    def field(self) -> str:
        return ".".join(self.loc)


def agent_class(name: str, path: str | None = None) -> type[Agent]:
    """The class of the agent configured as `name` (with `[agents.name] path = path`, if given)."""
    if path is not None:
        return _from_file(name, path)
    module_name, colon, attr = name.partition(":")
    if not colon:
        return _builtin(name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name != exc.name and not module_name.startswith(exc.name + "."):
            raise UnknownAgentError(
                f"agent {name!r}: its module {module_name} needs {exc.name}, which is not installed", _weight(name)
            ) from None
        raise UnknownAgentError(
            f"agent {name!r}: no installed module {module_name} (install its package, e.g. pip install -e DIR); "
            f'for a file, give [agents.NAME] {PATH_KEY} = "path/to/file.py" instead',
            _weight(name),
        ) from None
    return _agent_attr(module, attr, f"{module_name}:{attr}", _weight(name))


def parameters(cls: type[Agent]) -> dict[str, inspect.Parameter]:
    """The agent's parameters: its constructor's keyword arguments, by name (with their defaults)."""
    params = inspect.signature(cls.__init__).parameters
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {n: p for n, p in list(params.items())[1:] if p.kind in kinds}


def check_agents(weights: Mapping[str, float], params: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse, naming the setting, an agent that cannot be found, a parameter it does not take, a
    parameter section without a weight, or parameters it refuses; builds each agent once to know."""
    for name in params:
        if name not in weights:
            raise UnknownAgentError(
                f"parameters for an agent that has no weight: add `{name} = 1.0` under [committee.weights] "
                f"or remove [agents.{name}]{_did_you_mean(name, weights)}",
                ("agents", name),
            )
    seen: dict[str, str] = {}
    for name in weights:
        given = params.get(name, {})
        cls = agent_class(name, _path_of(name, given))
        known = parameters(cls)
        if PATH_KEY in known:
            raise UnknownAgentError(
                f"agent {name!r} has a parameter {PATH_KEY!r}, which the configuration keeps for an agent's file: "
                "rename the parameter",
                _weight(name),
            )
        takes_any = cls.__init__ is not Agent.__init__ and any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values()
        )
        for key in given:
            if key != PATH_KEY and key not in known and not takes_any:
                offer = ", ".join(known) or "none"
                raise UnknownAgentError(
                    f"agent {name!r} has no parameter {key!r}{_did_you_mean(key, known)} (its parameters: {offer})",
                    ("agents", name, key),
                )
        called = _build(name, cls, given).name
        if called in seen:
            raise UnknownAgentError(
                f"agents {seen[called]!r} and {name!r} are both called {called!r}: their votes would mix; "
                "keep one, or give one another `name`",
                _weight(name),
            )
        seen[called] = name


def build_agents(
    weights: Mapping[str, float], params: Mapping[str, Mapping[str, Any]]
) -> tuple[list[Agent], dict[str, float]]:
    """One agent per name with a weight above 0, in configuration order, built with its parameters;
    and the weights keyed by each agent's own name (what its scores carry)."""
    unknown = set(params) - set(weights)
    if unknown:
        first = sorted(unknown)[0]
        raise UnknownAgentError(f"parameters given for agents without a weight: {sorted(unknown)}", ("agents", first))
    agents: list[Agent] = []
    by_agent: dict[str, float] = {}
    for name, weight in weights.items():
        if weight <= 0:
            continue
        given = params.get(name, {})
        agent = _build(name, agent_class(name, _path_of(name, given)), given)
        if agent.name in by_agent:
            raise UnknownAgentError(f"two configured agents are both called {agent.name!r}", _weight(name))
        agents.append(agent)
        by_agent[agent.name] = weight
    return agents, by_agent


def builtin_names() -> list[str]:
    """The agents that come with Coinswarm: the modules of this package."""
    import pkgutil  # here: only an error message or a listing needs it

    package = importlib.import_module(BUILTIN_PACKAGE)
    found = {m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in NOT_AGENTS}
    return sorted(found | set(ELSEWHERE))


def load_agent_file(path: str | Path, attr: str | None = None) -> type[Agent]:
    """The agent class in a Python file: `attr`, else its `AGENT`, else the one agent class it defines."""
    spec = str(path) if attr is None else f"{path}:{attr}"
    return _from_file(Path(path).stem, spec)


def _builtin(name: str) -> type[Agent]:
    module_name = ELSEWHERE.get(name, f"{BUILTIN_PACKAGE}.{name}")
    if not name.isidentifier() or name in NOT_AGENTS:
        raise UnknownAgentError(_no_agent(name), _weight(name))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UnknownAgentError(_no_agent(name), _weight(name)) from None
    return _agent_attr(module, "AGENT", module_name, _weight(name))


def _no_agent(name: str) -> str:
    known = builtin_names()
    return (
        f"no agent {name!r}{_did_you_mean(name, known)}. The built-in agents are {', '.join(known)}; "
        f'an agent of your own is a file ([agents.{name}] {PATH_KEY} = "agents/{name}.py"; '
        f"`coinswarm agent new {name}` writes one) or an installed 'package.module:Class'"
    )


def _from_file(name: str, spec: str) -> type[Agent]:
    where = ("agents", name, PATH_KEY)
    file_part, attr = spec, None
    head, colon, tail = spec.rpartition(":")
    if colon and tail.isidentifier() and head:
        file_part, attr = head, tail
    file = Path(file_part).expanduser()
    if file.suffix != ".py":
        raise UnknownAgentError(f"{spec!r} is not a Python file (a path ending in .py, optionally ':Class')", where)
    if not file.is_file():
        raise UnknownAgentError(
            f"no file {file.resolve()} (a relative path is taken from the configuration file's "
            f"directory, or the working directory when there is none)",
            where,
        )
    resolved = file.resolve()
    module_name = _FILE_MODULES + hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    module = sys.modules.get(module_name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(module_name, resolved)
        if loader_spec is None or loader_spec.loader is None:
            raise UnknownAgentError(f"{resolved} cannot be loaded as a Python module", where)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise UnknownAgentError(f"{resolved} failed to load: {type(exc).__name__}: {exc}", where) from exc
    if attr is not None:
        return _agent_attr(module, attr, f"{resolved}:{attr}", where)
    if hasattr(module, "AGENT"):
        return _agent_attr(module, "AGENT", f"{resolved}: AGENT", where)
    own = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, Agent) and v.__module__ == module_name and not inspect.isabstract(v)
    ]
    if len(own) != 1:
        found = "no agent class" if not own else f"{len(own)} agent classes ({', '.join(c.__name__ for c in own)})"
        raise UnknownAgentError(
            f"{resolved} defines {found}: set AGENT = YourAgent in it, or name the class "
            f'with {PATH_KEY} = "{file_part}:YourAgent"',
            where,
        )
    return own[0]


def _agent_attr(module: Any, attr: str, what: str, where: tuple[str, ...]) -> type[Agent]:
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise UnknownAgentError(f"{what} is not an Agent subclass (coinswarm.domain.agents.base.Agent)", where)
    if inspect.isabstract(cls):
        raise UnknownAgentError(f"{what} does not implement observe(candle, view)", where)
    return cls


def _build(name: str, cls: type[Agent], given: Mapping[str, Any]) -> Agent:
    kwargs = {k: v for k, v in given.items() if k != PATH_KEY}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        shown = ", ".join(f"{k} = {v!r}" for k, v in kwargs.items()) or "no parameters"
        raise UnknownAgentError(
            f"agent {name!r} refuses {shown}: {exc}", ("agents", name) if kwargs else _weight(name)
        ) from exc


def _path_of(name: str, given: Mapping[str, Any]) -> str | None:
    path = given.get(PATH_KEY)
    if path is not None and not isinstance(path, str):
        raise UnknownAgentError(f"give the agent's file as a string, not {path!r}", ("agents", name, PATH_KEY))
    return path


def _weight(name: str) -> tuple[str, ...]:
    return ("committee", "weights", name)


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    import difflib  # here: only an error message needs it

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
