"""Agents: each reads candles and gives a signal in [-1, 1], a confidence in [0, 1] and a reason.

A built-in agent is one small module here defining `AGENT = YourAgent` (one required method,
`observe`), used by its weight under `[committee.weights]`; its parameters go under `[agents.<name>]`.
Agents of your own live in files named by `[agents.<name>] path` (docs/agents.md).
"""
