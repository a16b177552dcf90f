"""The deployment section of the configuration: which function runs on which cloud, how the cycle is
chained, and the sizes the budget model and the Terraform both read (one source of truth).

Cadence and symbols are not repeated here: they are the top-level `timeframe` and `symbols`.
The budget fields (durations, log bytes, always-warm instances, billing modes, the share limit) feed
`coinswarm budget`; the Terraform reads the same ones it deploys (memory, retention, min instances,
Cosmos DB throughput, DynamoDB billing mode, Step Functions type).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FUNCTIONS: tuple[str, ...] = (
    "tick_ingest",
    "agent_scoring",
    "committee_vote",
    "order_placement",
    "trade_logging",
    "manual_trade",
)
# The stages of a cycle (manual_trade starts one by hand): what a workflow calls.
CYCLE_FUNCTIONS: tuple[str, ...] = FUNCTIONS[:5]
# Deployed beside the six when deploy.placement splits the stages across clouds: the end of the signed push.
PUSH_RECEIVER = "push_receiver"
# The owner's remote control (Telegram's webhook, the status API and page), deployed beside manual_trade.
TELEGRAM_WEBHOOK = "telegram_webhook"
# What `make package` builds a zip of: the six functions, the push receiver and the remote control.
PACKAGED: tuple[str, ...] = (*FUNCTIONS, PUSH_RECEIVER, TELEGRAM_WEBHOOK)
Cloud = Literal["aws", "gcp"]

DEFAULT_DURATIONS_MS: dict[str, int] = {
    "tick_ingest": 500,  # per symbol: a candles request and a quotes request to the exchange, one store write
    "agent_scoring": 200,
    "committee_vote": 150,
    "order_placement": 300,
    "trade_logging": 150,
    "manual_trade": 1000,  # usually a cold start: a call now and then
}


def deployed_name(function: str, prefix: str = "coinswarm") -> str:
    """The name a function is deployed under on every cloud (Lambda function, Cloud Function), which
    Terraform creates, packaging names its zips by, and a function invoking the next one calls:
    the prefix (`aws.table_prefix`) and the function's name with `-` for `_`
    (tick_ingest -> coinswarm-tick-ingest). Cloud Functions refuse `_` in names, so both clouds use `-`."""
    return f"{prefix}-" + function.replace("_", "-")


def _all_on(cloud: Cloud) -> dict[str, Cloud]:
    return dict.fromkeys(FUNCTIONS, cloud)


class DeployConfig(BaseModel):
    """Where and how the functions are deployed (`terraform/` and `coinswarm budget` read this)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    placement: dict[str, Cloud] = Field(
        default_factory=lambda: _all_on("aws"),
        description="the cloud each function runs on (unnamed ones: aws); a hop between clouds is a signed HTTP push",
    )
    chain: Literal["invoke", "queues", "workflow"] = Field(
        default="invoke",
        description="how a cycle's stages are chained: invoke (the default: on AWS each function invokes the next "
        "asynchronously, Lambda's own event queue with retries and an SQS dead-letter destination, nothing polls; "
        "Pub/Sub push on GCP), queues (SQS event sources, which poll even when idle: about 2.6 million SQS "
        "requests a month for four queues, beyond the free million; Pub/Sub on GCP) or a workflow (Step "
        "Functions / GCP Workflows; for low-frequency or manual cycles)",
    )
    memory_mb: Annotated[int, Field(ge=128, le=10240)] = Field(default=256, description="memory of each function")
    timeout_s: Annotated[int, Field(ge=1, le=30)] = Field(
        default=30,
        description="each function's timeout on AWS (Terraform's timeout_s; at most 30 s: the queues' 180-s visibility "
        "timeout stays six times it); a killed function's claim on its message expires 10 s after the longest, "
        "before Lambda's first retry (stages.outbox)",
    )
    log_retention_days: Annotated[int, Field(ge=1, le=3653)] = Field(
        default=14, description="how long the cloud keeps the functions' logs"
    )

    durations_ms: dict[str, Annotated[int, Field(ge=1, le=900_000)]] = Field(
        default_factory=lambda: dict(DEFAULT_DURATIONS_MS),
        description="billed time of one invocation per function, in ms (tick_ingest: per symbol it fetches); "
        "estimates with room for network round trips and the odd cold start: replace them with the "
        "REPORT lines' Billed Duration once deployed (unnamed ones keep their defaults)",
    )
    log_bytes_per_invocation: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=1200,
        description="log bytes one invocation writes: the platform's START/END/REPORT lines and one JSON line",
    )
    manual_calls_per_day: Annotated[int, Field(ge=0, le=100_000)] = Field(
        default=10, description="calls to the manual trade endpoint a day (each reads its secret: a cold start)"
    )
    min_instances: dict[str, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=dict,
        description="instances kept warm per function (provisioned concurrency on AWS, min instances on GCP); "
        "anything above 0 is billed for its idle time on every cloud (unnamed ones: 0)",
    )
    custom_metrics: Annotated[int, Field(ge=0, le=10_000)] = Field(
        default=0, description="custom CloudWatch metrics the owner adds beside Coinswarm's five (10 are free)"
    )
    dynamodb_billing: Literal["provisioned", "on_demand"] = Field(
        default="provisioned",
        description="DynamoDB capacity mode: the free tier covers provisioned capacity only; on demand is billed "
        "per request from the first one",
    )
    step_functions_type: Literal["standard", "express"] = Field(
        default="standard",
        description="the Step Functions workflow type when chain = workflow on AWS: standard bills every state "
        "transition beyond 4,000 a month; express has no free tier",
    )
    cosmos_throughput_ru_s: Annotated[int, Field(ge=400, le=1_000_000)] = Field(
        default=400,
        description="the shared throughput of the Cosmos DB database (the free tier covers 1000 RU/s)",
    )
    max_share: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.5,
        description="the largest share of any free-tier quota `coinswarm budget` accepts (0.5: 2x headroom)",
    )

    @field_validator("durations_ms", mode="before")
    @classmethod
    def _merge_default_durations(cls, v: object) -> object:
        if not isinstance(v, dict):
            return v
        _known_functions(v)
        return {**DEFAULT_DURATIONS_MS, **v}

    @field_validator("min_instances", mode="before")
    @classmethod
    def _check_min_instances(cls, v: object) -> object:
        if isinstance(v, dict):
            _known_functions(v)
        return v

    @field_validator("placement", mode="before")
    @classmethod
    def _merge_default_placement(cls, v: object) -> object:
        """Name only the functions that move: the others stay on AWS."""
        if not isinstance(v, dict):
            return v
        _known_functions(v)
        return {**_all_on("aws"), **v}

    @model_validator(mode="after")
    def _check_workflow_on_one_cloud(self) -> DeployConfig:
        """Under chain = "workflow" one execution calls the five cycle stages: they share a cloud
        (manual_trade may sit on the other one). Terraform refuses the split too."""
        if self.chain == "workflow":
            clouds = {self.placement.get(f, "aws") for f in CYCLE_FUNCTIONS}
            if len(clouds) > 1:
                placed = ", ".join(f"{f} = {self.placement.get(f, 'aws')}" for f in CYCLE_FUNCTIONS)
                raise ValueError(
                    f'chain = "workflow" runs the whole cycle in one execution on one cloud, but placement has '
                    f'{placed}: place those five on one cloud, or use chain = "invoke" or "queues" to split the stages'
                )
        return self

    def on(self, cloud: Cloud) -> list[str]:
        """The functions placed on `cloud`, in cycle order."""
        return [f for f in FUNCTIONS if self.placement.get(f, "aws") == cloud]


def _known_functions(v: dict[object, object]) -> None:
    unknown = sorted(str(k) for k in set(v) - set(FUNCTIONS))
    if unknown:
        raise ValueError(f"no such function: {', '.join(unknown)} (the functions: {', '.join(FUNCTIONS)})")
