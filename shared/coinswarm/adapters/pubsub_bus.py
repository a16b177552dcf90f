"""The Google Cloud Pub/Sub bus: each mesh hop is a topic whose push subscription calls the next function.

Publishing: `publish(topic, message)` sends `encode(message)` (JSON, UTF-8) to the Pub/Sub topic
`{prefix}-{topic}` with two attributes, `cycle_id` (the correlation id every function binds to its
logs) and `coinswarm_topic` (the mesh topic, so a push that reached the wrong function is recognised
before its body is parsed). The attribute cannot be called plain `topic`: `PublisherClient.publish`
takes the attributes as keyword arguments beside its own `topic` parameter, and the two collide.
Each publish waits for its future with a timeout, so an error or a timeout surfaces as an exception
in the function that published (Pub/Sub then redelivers the message that function was handling):
nothing is lost silently. `publish_many` queues several messages first and then waits for all, so
they share one round trip.

Receiving is not done here: on Pub/Sub a topic's consumer is the function its push subscription names
(see `TOPICS`, `create_topics`, and `functions/*/gcp.py`), so `subscribe` refuses.

`TOPICS` is the layout the deployment mirrors (the Terraform of the GCP stack creates the same):

    topic {prefix}-{topic}                      one per mesh hop, below
      subscription {prefix}-{topic}-{consumer}  push to the consumer function's URL (OIDC token of a
                                                service account allowed to invoke it), ack deadline
                                                ACK_DEADLINE_S, exponential retry RETRY_BACKOFF_S,
                                                never expires, dead letters after
                                                MAX_DELIVERY_ATTEMPTS deliveries to ...
    topic {prefix}-{topic}-dead-letters         ... which keeps them in
      subscription {prefix}-{topic}-dead-letters  a pull subscription, for inspection and replay

In GCP the Pub/Sub service agent (service-<project-number>@gcp-sa-pubsub.iam.gserviceaccount.com)
needs roles/pubsub.publisher on each dead-letter topic and roles/pubsub.subscriber on each push
subscription, or dead-lettering silently does not happen. The topic `{prefix}-logged` has no consumer
yet: nothing subscribes, so its messages are dropped until something (learning, reports) does.

The google library is imported by this module alone, and this module only by the Google Cloud entry
points: a function on AWS or Azure never loads it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
from google.api_core import exceptions as google_errors

from coinswarm.ports.bus import Bus, Handler
from coinswarm.stages.messages import (
    CANDLES,
    DECISIONS,
    LOGGED,
    PLACEMENTS,
    SCORES,
    Message,
    encode,
)

CYCLE_ID_ATTRIBUTE = "cycle_id"
TOPIC_ATTRIBUTE = "coinswarm_topic"
MAX_DELIVERY_ATTEMPTS = 5
ACK_DEADLINE_S = 60  # how long Pub/Sub waits for a push to be answered: the functions' timeout
RETRY_BACKOFF_S = (10, 600)  # Pub/Sub's exponential redelivery: first and longest wait
PUBLISH_TIMEOUT_S = 20.0
BATCH_LATENCY_S = 0.002  # a function publishes a handful of messages and then waits: send them at once


@dataclass(frozen=True, slots=True)
class TopicRoute:
    """One hop of the mesh on Pub/Sub: the topic, the message it carries, the function it pushes to."""

    topic: str
    message: str
    consumer: str | None

    def topic_id(self, prefix: str) -> str:
        return f"{prefix}-{self.topic}"

    def subscription_id(self, prefix: str) -> str:
        return f"{prefix}-{self.topic}-{(self.consumer or 'pull').replace('_', '-')}"

    def dead_letter_id(self, prefix: str) -> str:
        """The dead-letter topic and the pull subscription that keeps its messages (same id, two kinds)."""
        return f"{prefix}-{self.topic}-dead-letters"


TOPICS: tuple[TopicRoute, ...] = (
    TopicRoute(CANDLES, "CandlesReady", "agent_scoring"),
    TopicRoute(SCORES, "ScoresReady", "committee_vote"),
    TopicRoute(DECISIONS, "DecisionReady", "order_placement"),
    TopicRoute(PLACEMENTS, "PlacementDone", "trade_logging"),
    TopicRoute(LOGGED, "TradesLogged", None),
)
"""The mesh on Pub/Sub. tick_ingest is started over HTTP by Cloud Scheduler, so no topic leads to it."""


def route_for(message_kind: type[Any]) -> TopicRoute:
    """The hop that carries messages of this kind."""
    for route in TOPICS:
        if route.message == message_kind.__name__:
            return route
    raise KeyError(f"no Pub/Sub topic carries {message_kind.__name__}")


class PubSubBus(Bus):
    """Publishes stage messages on Pub/Sub. `publisher` is a `google.cloud.pubsub_v1.PublisherClient`
    (or anything with its `publish(topic_path, data, **attributes) -> future`; `create_topics` also
    uses its `create_topic`). `timeout_s` bounds the wait for one call's messages, all together."""

    def __init__(self, publisher: Any, *, project: str, prefix: str, timeout_s: float = PUBLISH_TIMEOUT_S) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.publisher = publisher
        self.project = project
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.published = 0

    @classmethod
    def from_settings(cls, settings: Any, *, publisher: Any | None = None) -> PubSubBus:
        """The bus of `settings.gcp` (the project; `collection_prefix` also prefixes the topics).
        The client finds the emulator by itself when PUBSUB_EMULATOR_HOST is set."""
        if publisher is None:
            publisher = pubsub_v1.PublisherClient(
                batch_settings=pubsub_v1.types.BatchSettings(max_latency=BATCH_LATENCY_S)
            )
        return cls(publisher, project=settings.gcp.project, prefix=settings.gcp.collection_prefix)

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{self.prefix}-{topic}"

    def subscribe(self, topic: str, handler: Handler) -> None:
        raise NotImplementedError(
            f"on Pub/Sub, {topic!r} is consumed by the function its push subscription calls "
            "(PubSubBus.create_topics, or the deployment), not by a handler in this process"
        )

    def publish(self, topic: str, message: Message) -> None:
        self.publish_many([(topic, message)])

    def publish_many(self, messages: Iterable[tuple[str, Message]]) -> list[str]:
        """Publish each (topic, message), then wait for every one: their Pub/Sub message ids, in order.
        Raises the first failure (or TimeoutError) once all have finished or timed out."""
        futures = [
            (
                topic,
                self.publisher.publish(
                    self.topic_path(topic),
                    encode(message).encode(),
                    **{CYCLE_ID_ATTRIBUTE: message.cycle_id, TOPIC_ATTRIBUTE: topic},
                ),
            )
            for topic, message in messages
        ]
        deadline = time.monotonic() + self.timeout_s
        ids: list[str] = []
        failure: BaseException | None = None
        for topic, future in futures:
            try:
                ids.append(str(future.result(timeout=max(0.0, deadline - time.monotonic()))))
                self.published += 1
            except TimeoutError:
                failure = failure or TimeoutError(
                    f"publishing to {self.topic_path(topic)} took longer than {self.timeout_s:g} s"
                )
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        return ids

    # -- layout: for tests, local set-ups and a first deployment --------------------------------------
    def create_topics(
        self,
        push_endpoints: Mapping[str, str] | None = None,
        *,
        subscriber: Any | None = None,
        push_service_account: str | None = None,
        ack_deadline_s: int = ACK_DEADLINE_S,
        retry_backoff_s: tuple[float, float] = RETRY_BACKOFF_S,
        max_delivery_attempts: int = MAX_DELIVERY_ATTEMPTS,
    ) -> dict[str, str]:
        """Create the topics of `TOPICS` and, for each hop with a consumer (or an endpoint given), its
        subscription with a dead-letter topic: a push subscription to `push_endpoints[topic]` when
        given (with an OIDC token of `push_service_account` when given), a pull subscription otherwise.
        Existing topics and subscriptions are kept (a subscription's push endpoint is updated).
        Returns {topic: subscription path}."""
        if subscriber is None:
            subscriber = pubsub_v1.SubscriberClient()
        endpoints = dict(push_endpoints or {})
        unknown = set(endpoints) - {route.topic for route in TOPICS}
        if unknown:
            raise ValueError(f"no Pub/Sub topic is called {', '.join(sorted(unknown))}")
        project, publisher = self.project, self.publisher
        created: dict[str, str] = {}
        for route in TOPICS:
            topic_path = f"projects/{project}/topics/{route.topic_id(self.prefix)}"
            _ignore_existing(lambda path=topic_path: publisher.create_topic(name=path))
            endpoint = endpoints.get(route.topic)
            if route.consumer is None and endpoint is None:
                continue
            dead_topic = f"projects/{project}/topics/{route.dead_letter_id(self.prefix)}"
            dead_sub = f"projects/{project}/subscriptions/{route.dead_letter_id(self.prefix)}"
            _ignore_existing(lambda path=dead_topic: publisher.create_topic(name=path))
            _ignore_existing(
                lambda name=dead_sub, topic=dead_topic: subscriber.create_subscription(
                    request={"name": name, "topic": topic, "expiration_policy": {}}
                )
            )
            push_config: dict[str, Any] = {}
            if endpoint is not None:
                push_config["push_endpoint"] = endpoint
                if push_service_account:
                    push_config["oidc_token"] = {"service_account_email": push_service_account}
            name = f"projects/{project}/subscriptions/{route.subscription_id(self.prefix)}"
            request = {
                "name": name,
                "topic": topic_path,
                "push_config": push_config,
                "ack_deadline_seconds": ack_deadline_s,
                "expiration_policy": {},  # never expires, however long the bot is paused
                "retry_policy": {
                    "minimum_backoff": _duration(retry_backoff_s[0]),
                    "maximum_backoff": _duration(retry_backoff_s[1]),
                },
                "dead_letter_policy": {"dead_letter_topic": dead_topic, "max_delivery_attempts": max_delivery_attempts},
            }
            if not _ignore_existing(lambda request=request: subscriber.create_subscription(request=request)):
                subscriber.modify_push_config(request={"subscription": name, "push_config": push_config})
            created[route.topic] = name
        return created


def _duration(seconds: float) -> dict[str, int]:
    whole = int(seconds)
    return {"seconds": whole, "nanos": round((seconds - whole) * 1e9)}


def _ignore_existing(create: Any) -> bool:
    """Run `create`; False (not an error) when the resource exists already."""
    try:
        create()
    except google_errors.AlreadyExists:
        return False
    return True
