"""Agents: each reads candles and gives a signal in [-1, 1], a confidence in [0, 1] and a reason.

A new agent is one small file here (a module defining `AGENT = YourAgent`) and one line of
configuration: its weight under `[committee.weights]`. Parameters go under `[agents.<name>]`.
"""
