"""Build the configured agents by name: `trend` is `coinswarm.domain.agents.trend.AGENT`;
`package.module:Class` names an agent that lives outside Coinswarm."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from coinswarm.domain.agents.base import Agent

BUILTIN_PACKAGE = "coinswarm.domain.agents"


class UnknownAgentError(ValueError):
    pass


def agent_class(name: str) -> type[Agent]:
    module_name, _, attr = name.partition(":")
    if not attr:
        module_name, attr = f"{BUILTIN_PACKAGE}.{name}", "AGENT"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UnknownAgentError(
            f"no agent {name!r}: expected a module {module_name} (a file {name}.py in "
            f"coinswarm/domain/agents defining AGENT), or 'package.module:Class'"
        ) from exc
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise UnknownAgentError(f"{module_name}.{attr} is not an Agent subclass")
    return cls


def build_agents(
    weights: Mapping[str, float], params: Mapping[str, Mapping[str, Any]]
) -> tuple[list[Agent], dict[str, float]]:
    """One agent per name with a weight above 0, in configuration order, built with its parameters;
    and the weights keyed by each agent's own name (what its scores carry)."""
    unknown = set(params) - set(weights)
    if unknown:
        raise UnknownAgentError(f"parameters given for agents without a weight: {sorted(unknown)}")
    agents: list[Agent] = []
    by_agent: dict[str, float] = {}
    for name, weight in weights.items():
        if weight <= 0:
            continue
        cls = agent_class(name)
        try:
            agent = cls(**dict(params.get(name, {})))
        except (TypeError, ValueError) as exc:
            raise UnknownAgentError(f"agent {name!r}: bad parameters {dict(params.get(name, {}))}: {exc}") from exc
        if agent.name in by_agent:
            raise UnknownAgentError(f"two configured agents are both called {agent.name!r}")
        agents.append(agent)
        by_agent[agent.name] = weight
    return agents, by_agent
