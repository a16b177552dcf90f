"""Deployable functions: one folder each, with thin entry points that parse a trigger's event into a
typed message, call one stage, and return. `local.py` is the entry point the local mesh uses; the
AWS Lambda and GCP Cloud Functions entry points sit beside it. `cold_start.py` runs first: what makes a
cold start cheaper."""

from functions import cold_start

cold_start.prepare()
