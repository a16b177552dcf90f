"""order_placement on AWS Lambda: a DecisionReady, invoked asynchronously by committee_vote (chain
"invoke") or in an SQS batch from the decisions queue (chain "queues"); its earlier orders settled and
its intents placed (risk, then the broker), its PlacementDone handed to trade_logging the same way when
it carries a fill. Handler: `functions.order_placement.aws.handler`.

Exactly one order per intent, guarded twice on purpose:

* powertools' idempotency utility (a `DynamoDBPersistenceLayer` on `{prefix}-idempotency`, keyed on
  the intent ids the message carries, whatever the event's shape) dedupes the message. Lambda's
  asynchronous queue and SQS both deliver at least once; a failed invocation is retried (twice, by
  Lambda), a batch's failed records, or one whose visibility timeout ran out, come back: a repeat
  does not run placement again but publishes the PlacementDone the first run produced, kept in the
  table. That is more than saved work: placement also settles earlier orders, and a second run
  would find them settled and report no fills, so republishing the first result hands the fills on
  even when the first publish was lost. The ledger appends each fill once; a repeat is harmless.
* Coinswarm's coordination store (the claim `order:<intent id>` in `PlacementStage.place`) guards the
  broker. It holds however and wherever an intent arrives (this queue, the manual trade endpoint, a
  Cloud Function on GCP sharing the store), is claimed before risk and the broker are asked (where
  powertools' record only knows that a whole invocation finished), and outlives that record's expiry.

A repeat that arrives while another invocation runs is refused so that it comes back, by either guard:
powertools' record is in progress until the holder's invocation would time out (the remaining time of
its context, at most `deploy.timeout_s`), and `IdempotencyAlreadyInProgressError` becomes the stages'
`ClaimInProgressError`; the message's claim in the coordination store (`stages.outbox`) is in progress 10 s
longer, and a repeat in between raises `ClaimInProgressError` itself (powertools then drops its own record).
Either way the invocation fails, logged as a warning, and Lambda (or SQS) delivers it again later: after
the holder completed, the repeat gets its result; after a killed holder's claims expired (Lambda's first
retry comes a minute after the failure), the repeat takes them over and reconciles by client order id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from coinswarm.adapters.dynamodb_store import TableSpec
from coinswarm.adapters.sqs_bus import QUEUE_OF_TOPIC
from coinswarm.errors import ClaimInProgressError
from coinswarm.stages.messages import DECISIONS, PLACEMENTS, DecisionReady, PlacementDone, decode, encode
from coinswarm.wiring.bootstrap import App
from functions.aws_common import AwsFunction, Outputs

IDEMPOTENCY_TABLE = TableSpec(
    suffix="idempotency",
    partition_key=("id", "S"),  # powertools' default key attribute
    sort_key=None,
    read_capacity=2,
    write_capacity=2,
    ttl_attribute="expiration",
)

function = AwsFunction("order_placement", "message")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    once = function.built(OncePerIntent)
    if context is not None:
        once.config.register_lambda_context(context)  # an invocation that times out frees its claim
    return function.consume(event, context, DecisionReady, lambda app: once)


class OncePerIntent:
    """The placement stage behind powertools' idempotency, built once per container."""

    def __init__(self, app: App) -> None:
        self.config = IdempotencyConfig(
            # as long as SQS may redeliver (4 days): longer than Lambda keeps an asynchronous event (6 hours)
            expires_after_seconds=QUEUE_OF_TOPIC[DECISIONS].retention_s,
            use_local_cache=True,
        )
        persistence = DynamoDBPersistenceLayer(
            table_name=IDEMPOTENCY_TABLE.name(app.settings.aws.table_prefix),
            boto3_client=function.client("dynamodb"),
        )
        stage = app.stages.placement
        self.timeout_s = app.settings.deploy.timeout_s

        def place(*, key: str, message: DecisionReady) -> list[str]:
            return [encode(done) for topic, done in stage.handle(message) if topic == PLACEMENTS]

        self._place = idempotent_function(
            place, data_keyword_argument="key", persistence_store=persistence, config=self.config
        )

    def __call__(self, message: DecisionReady) -> Outputs:
        try:
            placed = self._place(key=key(message), message=message)
        except IdempotencyAlreadyInProgressError:  # expires with the holder's invocation: at most its timeout
            raise ClaimInProgressError(f"order_placement:{key(message)}", self.timeout_s) from None
        return [(PLACEMENTS, decode(PlacementDone, body)) for body in placed]


def key(message: DecisionReady) -> str:
    """The intent ids the message carries; without any (every step a hold, which still settles earlier
    orders), its cycle and symbol."""
    ids = [step.intent.intent_id for step in message.steps if step.intent is not None]
    return ",".join(ids) if ids else f"{message.cycle_id}/{message.symbol}"
