"""One Google Cloud container's runtime: `runtime()` builds, once per container, the settings
(COINSWARM_CONFIG and COINSWARM_* variables, secret settings from Secret Manager), JSON log lines for
Cloud Logging with every configured secret redacted, the Pub/Sub bus, the signed HTTP push, and the App
(`container_app`: each of its stages built the first time it is used), each on first use and reused
while the container is warm. `Runtime.publish` hands a stage's outputs on: on Pub/Sub, or, when
`deploy.placement` puts the topic's consumer on AWS, over the signed HTTP push to AWS's push receiver.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from coinswarm.adapters.pubsub_bus import PubSubBus
from coinswarm.config import Settings, load_settings
from coinswarm.observability.logs import configure_json_logging, secret_values
from coinswarm.ports.bus import Bus
from coinswarm.stages.messages import Message
from coinswarm.stages.outbox import GCP_FUNCTION_TIMEOUT_S
from coinswarm.wiring.bootstrap import App
from coinswarm.wiring.cloud import container_app, reset_container_app
from functions.gcp_secrets import MANUAL_TRADE_SECRET_ENV, PUSH_SECRET_ID, access_secret, rotating_secrets

log = logging.getLogger("coinswarm.gcp")

CLOUD = "gcp"
_NOT_SETTINGS = frozenset({MANUAL_TRADE_SECRET_ENV})  # COINSWARM_* variables that are not configuration

Outputs = Sequence[tuple[str, Message]]


class Runtime:
    """One container's settings, logging, buses and App. Built by `runtime()`; tests may build their own."""

    def __init__(
        self, settings: Settings, *, bus: PubSubBus | None = None, log_stream: Any = None, **app_overrides: Any
    ) -> None:
        """`bus`, `log_stream` (stdout by default) and `app_overrides` (build_app's keyword arguments)
        are for tests."""
        self.settings = settings
        self._bus = bus
        self._log_stream = log_stream
        self._app_overrides = app_overrides
        self._secrets = secret_values(settings)
        self._lock = threading.Lock()
        self._pushed: frozenset[str] | None = None
        self._push_secrets: list[str] | None = None
        self._outbound: Bus | None = None
        self._configure_logging()

    @property
    def app(self) -> App:
        # the claims of a Cloud Function last past its 60-s timeout (stages.outbox)
        return container_app(self.settings, **{"function_timeout_s": GCP_FUNCTION_TIMEOUT_S, **self._app_overrides})

    @property
    def bus(self) -> PubSubBus:
        if self._bus is None:
            with self._lock:
                if self._bus is None:
                    self._bus = PubSubBus.from_settings(self.settings)
        return self._bus

    @property
    def pushed(self) -> frozenset[str]:
        """The topics this container hands on over the signed HTTP push (see `pushed_topics`)."""
        if self._pushed is None:
            self._pushed = pushed_topics(self.settings.deploy.placement)
        return self._pushed

    def push_secrets(self) -> list[str]:
        """The signed push's secrets: `COINSWARM_PUSH_SECRET`, else Secret Manager's `push-secret`; read
        once per container (the first signs, any verifies) and redacted from every log line."""
        if self._push_secrets is None:
            from coinswarm.http.push_wire import PUSH_SECRET_ENV

            secrets = rotating_secrets(self.settings, PUSH_SECRET_ENV, PUSH_SECRET_ID)
            self.redact(*secrets)
            self._push_secrets = secrets
        return self._push_secrets

    @property
    def outbound(self) -> Bus:
        """Where a message is handed on, one by one: Pub/Sub, or the signed HTTP push for the topics in
        `pushed`. Each is built on first use: a deployment on Google alone never builds the push (nor
        needs its secret), and a function whose outputs all cross to AWS never builds a Pub/Sub client."""
        if self._outbound is None:
            from coinswarm.adapters.http_push_bus import DeploymentBus, HttpPushBus

            def push() -> Bus:
                return HttpPushBus.from_settings(self.settings, self.push_secrets(), clock=self.app.clock)

            bus = DeploymentBus(lambda: self.bus, push, self.pushed)
            with self._lock:
                if self._outbound is None:
                    self._outbound = bus
        return self._outbound

    def publish(self, outputs: Outputs) -> int:
        """Hand on what a stage returned: the messages for Pub/Sub together (one round trip), then each
        one whose consumer runs on AWS over the signed HTTP push. Raises when any could not be handed on
        (the caller's own message is then redelivered); returns how many were."""
        pushed = self.pushed
        native = [(topic, message) for topic, message in outputs if topic not in pushed]
        if native:
            self.bus.publish_many(native)
        for topic, message in outputs:
            if topic in pushed:
                self.outbound.publish(topic, message)
        return len(outputs)

    def redact(self, *values: str) -> None:
        """Keep these values (secrets fetched at run time) out of every log line from now on."""
        self._secrets = [*self._secrets, *values]
        self._configure_logging()

    def _configure_logging(self) -> None:
        configure_json_logging(project=self.settings.gcp.project, secrets=self._secrets, stream=self._log_stream)


def pushed_topics(placement: Mapping[str, str]) -> frozenset[str]:
    """The topics a function on Google Cloud hands on over the signed HTTP push: those whose consumer
    `deploy.placement` puts on AWS. Every other topic goes to Pub/Sub.

    A placement that puts no function on Google Cloud cannot be this deployment's (a function reading
    it runs there): it is the default, all on AWS, because the deployment did not give the function
    COINSWARM_DEPLOY__PLACEMENT. Then every topic goes to Pub/Sub, as in a deployment on Google alone,
    where the placement makes no difference."""
    from coinswarm.http.push_wire import pushed_from

    return pushed_from(placement, CLOUD) if CLOUD in placement.values() else frozenset()


_lock = threading.Lock()
_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime(container_settings())
    return _runtime


def use_runtime(rt: Runtime | None) -> None:
    """Install (or with None, forget) the container's runtime and its App: for tests."""
    global _runtime
    with _lock:
        _runtime = rt
    reset_container_app()


def container_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The configuration, leaving out the COINSWARM_* variables that carry secrets, not settings, and with
    the secret settings (the Cosmos DB key, the exchange's keys) read from Secret Manager where Terraform's
    SECRET_SETTINGS says they are (functions/secret_settings.py)."""
    from functions.secret_settings import with_secret_settings

    env = os.environ if env is None else env
    kept = {k: v for k, v in env.items() if k not in _NOT_SETTINGS}
    return load_settings(env=with_secret_settings(kept, access_secret))
