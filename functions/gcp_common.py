"""What the Google Cloud entry points share, so that each of them stays a few lines: one import for
them all, and the end of their imports (`cold_start.loaded()`). Each concern has its own module:

* functions.gcp_runtime: `runtime()`, the container's settings, logs, buses and App; `Runtime.publish`.
* functions.gcp_push: `serve` (a stage function's request) and `consume` (a Pub/Sub push).
* functions.gcp_workflow: `workflow`, `workflow_tick` (a step of the cycle's workflow).
* functions.gcp_schedule: `run_tick`, `scheduled_at`, `cycle_tick` (the cycle Cloud Scheduler starts).
* functions.gcp_secrets: Secret Manager (`access_secret`, the rotating signing secrets).
* functions.gcp_manual_trade: `manual_trade_handler()`, the manual trade endpoint's handler.

When a push is acknowledged, redelivered or dead-lettered: docs/outbox.md.
"""

from __future__ import annotations

from functions import cold_start
from functions.gcp_manual_trade import manual_trade_handler
from functions.gcp_push import Push, UnprocessableError, consume, read_push, serve
from functions.gcp_runtime import CLOUD, Outputs, Runtime, container_settings, pushed_topics, runtime, use_runtime
from functions.gcp_schedule import cycle_tick, run_tick, scheduled_at
from functions.gcp_secrets import (
    MANUAL_TRADE_SECRET_ENV,
    MANUAL_TRADE_SECRET_ID,
    PUSH_SECRET_ID,
    SecretUnavailableError,
    access_secret,
    manual_trade_secrets,
    rotating_secrets,
)
from functions.gcp_workflow import workflow, workflow_tick

__all__ = [
    "CLOUD",
    "MANUAL_TRADE_SECRET_ENV",
    "MANUAL_TRADE_SECRET_ID",
    "PUSH_SECRET_ID",
    "Outputs",
    "Push",
    "Runtime",
    "SecretUnavailableError",
    "UnprocessableError",
    "access_secret",
    "consume",
    "container_settings",
    "cycle_tick",
    "manual_trade_handler",
    "manual_trade_secrets",
    "pushed_topics",
    "read_push",
    "rotating_secrets",
    "run_tick",
    "runtime",
    "scheduled_at",
    "serve",
    "use_runtime",
    "workflow",
    "workflow_tick",
]

cold_start.loaded()  # the last of an entry point's imports that weigh anything: they are all in
