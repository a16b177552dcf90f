"""The budget: every free-tier quota beside its projected use and share, the provisioned capacities
beside the load they carry, and the traps (settings that cost money however little runs).

`project(settings)` is pure: it reads only the configuration. A budget passes when no share exceeds
`deploy.max_share` (default 0.5: 2x headroom) and no trap is sprung.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coinswarm.budget import profile as p
from coinswarm.budget.quotas import CHECKED, QUOTAS
from coinswarm.budget.usage import DAYS, SECONDS_PER_DAY, Usage, project_usage
from coinswarm.config.settings import Settings

MINUTE_S = 60


@dataclass(frozen=True, slots=True)
class Line:
    key: str
    quota: str
    cloud: str
    used: float
    limit: float
    unit: str
    period: str
    source: str
    checked: str

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else (math.inf if self.used else 0.0)

    def to_json(self) -> dict[str, object]:
        return {
            "quota": self.quota,
            "key": self.key,
            "cloud": self.cloud,
            "used": round(self.used, 6),
            "limit": self.limit,
            "share": round(self.share, 6),
            "unit": self.unit,
            "period": self.period,
            "source": self.source,
            "checked": self.checked,
        }


@dataclass(frozen=True, slots=True)
class Trap:
    key: str
    message: str


@dataclass(frozen=True, slots=True)
class Budget:
    lines: tuple[Line, ...]
    traps: tuple[Trap, ...]
    max_share: float
    usage: Usage

    @property
    def over(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.share > self.max_share)

    @property
    def ok(self) -> bool:
        return not self.over and not self.traps


def project(settings: Settings, *, max_share: float | None = None) -> Budget:
    usage = project_usage(settings)
    lines = [
        Line(q.key, q.name, q.cloud, usage.month.get(q.key, 0.0), q.limit, q.unit, q.period, q.source, q.checked)
        for q in QUOTAS
    ]
    lines.extend(_load_lines(settings, usage))
    share = settings.deploy.max_share if max_share is None else max_share
    return Budget(tuple(lines), tuple(traps(settings, usage)), share, usage)


def _load_lines(settings: Settings, usage: Usage) -> list[Line]:
    """What the provisioned capacity carries: average units per second over a cycle for DynamoDB (its
    burst credit absorbs a cycle's peak), a cycle's whole RU in one second for Cosmos DB."""
    lines: list[Line] = []
    tf = settings.timeframe_s
    cycle = usage.per_cycle
    code = "coinswarm/adapters/dynamodb_store.py STATE_TABLE"
    if "dynamodb_rcu" in cycle and settings.deploy.dynamodb_billing == "provisioned":
        rcu, wcu = p.STATE_TABLE_CAPACITY
        lines.append(
            Line(
                "dynamodb_read_load",
                "DynamoDB state reads",
                "aws",
                cycle["dynamodb_rcu"] / tf,
                rcu,
                "RCU/s",
                "provisioned",
                code,
                CHECKED,
            )
        )
        lines.append(
            Line(
                "dynamodb_write_load",
                "DynamoDB state writes",
                "aws",
                cycle["dynamodb_wcu"] / tf,
                wcu,
                "WCU/s",
                "provisioned",
                code,
                CHECKED,
            )
        )
    if "idempotency_wcu" in cycle and settings.deploy.dynamodb_billing == "provisioned":
        lines.append(
            Line(
                "idempotency_write_load",
                "DynamoDB idempotency writes",
                "aws",
                cycle["idempotency_wcu"] / tf,
                p.IDEMPOTENCY_TABLE_CAPACITY[1],
                "WCU/s",
                "provisioned",
                "functions/order_placement/aws.py IDEMPOTENCY_TABLE",
                CHECKED,
            )
        )
    lines.append(
        Line(
            "cosmos_load",
            "Cosmos DB RU in a cycle's second",
            "azure",
            usage.cosmos_peak_ru_s,
            float(settings.deploy.cosmos_throughput_ru_s),
            "RU/s",
            "provisioned",
            "deploy.cosmos_throughput_ru_s",
            CHECKED,
        )
    )
    return lines


def traps(settings: Settings, usage: Usage) -> list[Trap]:
    """Settings that are billed whatever the volume, or that no free tier covers."""
    d = settings.deploy
    found: list[Trap] = []
    workflow_on_aws = d.chain == "workflow" and settings.wiring == "mesh" and d.placement["tick_ingest"] == "aws"
    transitions = usage.month.get("step_functions", 0.0)
    if workflow_on_aws and d.step_functions_type == "standard" and transitions > 4_000:
        found.append(
            Trap(
                "step_functions_standard",
                f"Step Functions standard at a {settings.timeframe} cadence: {transitions:,.0f} state transitions "
                'a month, 4,000 are free; chain by invocation (deploy.chain = "invoke") and keep the workflow '
                "for low-frequency or manual cycles",
            )
        )
    if workflow_on_aws and d.step_functions_type == "express":
        found.append(
            Trap(
                "step_functions_express",
                "Step Functions express has no free tier: every execution is billed; use standard for "
                'low-frequency cycles, or chain by invocation (deploy.chain = "invoke")',
            )
        )
    jobs = usage.month.get("cloud_scheduler_jobs", 0.0)
    if jobs > 3:
        found.append(Trap("cloud_scheduler_jobs", f"{jobs:.0f} Cloud Scheduler jobs: 3 per billing account are free"))
    uses_dynamodb = usage.dynamodb_capacity != (0, 0) or "dynamodb_rcu" in usage.per_cycle
    if d.dynamodb_billing == "on_demand" and (uses_dynamodb or d.placement["order_placement"] == "aws"):
        found.append(
            Trap(
                "dynamodb_on_demand",
                "DynamoDB on demand is billed per request from the first one: the free tier covers provisioned "
                'capacity only (deploy.dynamodb_billing = "provisioned")',
            )
        )
    metrics = usage.month.get("cloudwatch_metrics", float(d.custom_metrics))
    if metrics > 10:
        found.append(
            Trap(
                "cloudwatch_metrics",
                f"{metrics:.0f} custom CloudWatch metrics (deploy.custom_metrics {d.custom_metrics} and Coinswarm's "
                "own): 10 are free, each one more is billed every month",
            )
        )
    warm = {f: n for f, n in d.min_instances.items() if n > 0}
    if warm:
        named = ", ".join(f"{f} ({n})" for f, n in sorted(warm.items()))
        idle_s = sum(warm.values()) * SECONDS_PER_DAY * DAYS
        found.append(
            Trap(
                "always_warm",
                f"always-warm instances: {named}; each is billed for its idle time ({idle_s:,} s a month in all) "
                "on every cloud: set deploy.min_instances to 0",
            )
        )
    return found


def cadence_text(settings: Settings) -> str:
    tf = settings.timeframe_s
    return f"every {tf // MINUTE_S} min" if tf < 3600 else f"every {tf // 3600} h"
