"""The deployment section of the configuration: which function runs on which cloud, how the cycle is
chained, and the sizes the budget model and the Terraform both read (one source of truth).

Cadence and symbols are not repeated here: they are the top-level `timeframe` and `symbols`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FUNCTIONS: tuple[str, ...] = (
    "tick_ingest",
    "agent_scoring",
    "committee_vote",
    "order_placement",
    "trade_logging",
    "manual_trade",
)
Cloud = Literal["aws", "gcp"]


def _all_on(cloud: Cloud) -> dict[str, Cloud]:
    return dict.fromkeys(FUNCTIONS, cloud)


class DeployConfig(BaseModel):
    """Where and how the functions are deployed (`terraform/` and `coinswarm budget` read this)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    placement: dict[str, Cloud] = Field(
        default_factory=lambda: _all_on("aws"),
        description="the cloud each function runs on (unnamed ones: aws); a hop between clouds is a signed HTTP push",
    )
    chain: Literal["queues", "workflow"] = Field(
        default="queues",
        description="how a cycle's stages are chained: queues (SQS / Pub/Sub; for every-minute cycles) or a "
        "workflow (Step Functions / GCP Workflows; for low-frequency or manual cycles)",
    )
    memory_mb: Annotated[int, Field(ge=128, le=10240)] = Field(default=256, description="memory of each function")
    log_retention_days: Annotated[int, Field(ge=1, le=3653)] = Field(
        default=14, description="how long the cloud keeps the functions' logs"
    )

    @field_validator("placement", mode="before")
    @classmethod
    def _unnamed_functions_stay_on_aws(cls, v: object) -> object:
        """Name only the functions that move: the others stay on AWS."""
        if not isinstance(v, dict):
            return v
        unknown = sorted(set(v) - set(FUNCTIONS))
        if unknown:
            raise ValueError(f"no such function: {', '.join(unknown)} (the functions: {', '.join(FUNCTIONS)})")
        return {**_all_on("aws"), **v}
