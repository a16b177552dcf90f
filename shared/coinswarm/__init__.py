"""Coinswarm: a personal crypto trading bot built as a mesh of small stateless functions.

Layers, dependencies pointing inward:
  functions/* (entry points) -> coinswarm.wiring (composition root) -> coinswarm.stages (use cases)
  -> coinswarm.domain (models, indicators, agents, committee, risk, ledger rules; no I/O)
Adapters (coinswarm.adapters) implement the ports (coinswarm.ports) and are chosen by configuration.
"""

__version__ = "0.1.0"
