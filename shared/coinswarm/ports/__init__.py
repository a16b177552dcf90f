"""Ports: the small abstract interfaces the stages need from the outside world.

Each has an embedded default (SQLite, in-process, paper, replay) and cloud adapters behind it.
"""
