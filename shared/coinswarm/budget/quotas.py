"""The free-tier quotas Coinswarm must stay within, each with its cloud, unit, limit, period, the
official page that states it, and the date it was checked.

The figures are those of the project's design notes (`../shared/DESIGN.md`, "Free tier: figures to
verify and cite"). This build cannot reach the internet, so `checked` is the date a figure was compared
with the page's text as held by the project's offline search tools (`verified` says what was found
there); where those tools held no copy of the page, `verified` says so and the figure stands on the
design notes as of that date. Re-check `source` before relying on a figure: free tiers change.

Periods: "month" and "day" are usage allowances; "provisioned" is capacity the deployment reserves
(what is provisioned is what counts, used or not); "stored" is data at rest; "count" is how many of a
resource exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Period = Literal["month", "day", "provisioned", "stored", "count"]
CHECKED = "2026-11-22"


@dataclass(frozen=True, slots=True)
class Quota:
    key: str
    name: str
    cloud: Literal["aws", "gcp", "azure"]
    unit: str
    limit: float
    period: Period
    source: str
    checked: str = CHECKED
    verified: str = "not in the offline search index: figure from the design notes"


_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_LAMBDA_SEEN = (
    "AWS whitepaper 'How AWS Pricing Works', Lambda: '1 million requests per month', "
    "'400,000 GB-seconds per month free'"
)
_FIRESTORE = "https://cloud.google.com/firestore/pricing"
_FIRESTORE_SEEN = (
    "Firestore pricing page, free quota table: stored data 1 GiB, document reads 50,000 per day, "
    "writes 20,000 per day, deletes 20,000 per day (TTL deletes are not in the free quota)"
)
_FUNCTIONS = "https://cloud.google.com/functions/pricing"
_FUNCTIONS_SEEN = (
    "third-party summary only (danbars/stack-on-a-budget): 2M requests, 400k GB-s, 200k GHz-s, 5 GB "
    "outbound a month; 2nd gen functions are billed as Cloud Run: re-check the page"
)

QUOTAS: tuple[Quota, ...] = (
    Quota("lambda_requests", "Lambda requests", "aws", "requests", 1_000_000, "month", _LAMBDA, verified=_LAMBDA_SEEN),
    Quota("lambda_compute", "Lambda compute", "aws", "GB-s", 400_000, "month", _LAMBDA, verified=_LAMBDA_SEEN),
    Quota("sqs_requests", "SQS requests", "aws", "requests", 1_000_000, "month", "https://aws.amazon.com/sqs/pricing/"),
    Quota(
        "eventbridge_scheduler",
        "EventBridge Scheduler invocations",
        "aws",
        "invocations",
        14_000_000,
        "month",
        "https://aws.amazon.com/eventbridge/pricing/",
    ),
    Quota(
        "step_functions",
        "Step Functions state transitions",
        "aws",
        "transitions",
        4_000,
        "month",
        "https://aws.amazon.com/step-functions/pricing/",
    ),
    Quota(
        "dynamodb_rcu",
        "DynamoDB read capacity",
        "aws",
        "RCU",
        25,
        "provisioned",
        "https://aws.amazon.com/dynamodb/pricing/provisioned/",
    ),
    Quota(
        "dynamodb_wcu",
        "DynamoDB write capacity",
        "aws",
        "WCU",
        25,
        "provisioned",
        "https://aws.amazon.com/dynamodb/pricing/provisioned/",
    ),
    Quota(
        "dynamodb_storage",
        "DynamoDB storage",
        "aws",
        "GB",
        25,
        "stored",
        "https://aws.amazon.com/dynamodb/pricing/provisioned/",
    ),
    Quota(
        "cloudwatch_logs",
        "CloudWatch Logs ingested + stored",
        "aws",
        "GB",
        5,
        "month",
        "https://aws.amazon.com/cloudwatch/pricing/",
    ),
    Quota(
        "cloudwatch_metrics",
        "CloudWatch custom metrics",
        "aws",
        "metrics",
        10,
        "count",
        "https://aws.amazon.com/cloudwatch/pricing/",
    ),
    Quota(
        "cloudwatch_alarms",
        "CloudWatch alarms (standard resolution)",
        "aws",
        "alarms",
        10,
        "count",
        "https://aws.amazon.com/cloudwatch/pricing/",
    ),
    Quota(
        "ssm_parameters",
        "SSM standard parameters",
        "aws",
        "parameters",
        10_000,
        "count",
        "https://aws.amazon.com/systems-manager/pricing/",
        verified="design notes: standard parameters are free; 10,000 is the standard tier's count per region",
    ),
    Quota(
        "gcf_invocations",
        "Cloud Functions invocations",
        "gcp",
        "invocations",
        2_000_000,
        "month",
        _FUNCTIONS,
        verified=_FUNCTIONS_SEEN,
    ),
    Quota("gcf_gb_s", "Cloud Functions memory", "gcp", "GB-s", 400_000, "month", _FUNCTIONS, verified=_FUNCTIONS_SEEN),
    Quota("gcf_ghz_s", "Cloud Functions CPU", "gcp", "GHz-s", 200_000, "month", _FUNCTIONS, verified=_FUNCTIONS_SEEN),
    Quota("gcf_egress", "Cloud Functions egress", "gcp", "GB", 5, "month", _FUNCTIONS, verified=_FUNCTIONS_SEEN),
    Quota(
        "cloud_scheduler_jobs",
        "Cloud Scheduler jobs",
        "gcp",
        "jobs",
        3,
        "count",
        "https://cloud.google.com/scheduler/pricing",
    ),
    Quota("pubsub", "Pub/Sub throughput", "gcp", "GiB", 10, "month", "https://cloud.google.com/pubsub/pricing"),
    Quota("firestore_reads", "Firestore reads", "gcp", "reads", 50_000, "day", _FIRESTORE, verified=_FIRESTORE_SEEN),
    Quota("firestore_writes", "Firestore writes", "gcp", "writes", 20_000, "day", _FIRESTORE, verified=_FIRESTORE_SEEN),
    Quota(
        "firestore_deletes", "Firestore deletes", "gcp", "deletes", 20_000, "day", _FIRESTORE, verified=_FIRESTORE_SEEN
    ),
    Quota("firestore_storage", "Firestore storage", "gcp", "GiB", 1, "stored", _FIRESTORE, verified=_FIRESTORE_SEEN),
    Quota(
        "workflows_internal",
        "Workflows internal steps",
        "gcp",
        "steps",
        5_000,
        "month",
        "https://cloud.google.com/workflows/pricing",
    ),
    Quota(
        "workflows_external",
        "Workflows external calls",
        "gcp",
        "calls",
        2_000,
        "month",
        "https://cloud.google.com/workflows/pricing",
    ),
    Quota(
        "secret_versions",
        "Secret Manager active versions",
        "gcp",
        "versions",
        6,
        "count",
        "https://cloud.google.com/secret-manager/pricing",
    ),
    Quota(
        "secret_access",
        "Secret Manager access operations",
        "gcp",
        "operations",
        10_000,
        "month",
        "https://cloud.google.com/secret-manager/pricing",
    ),
    Quota(
        "monitoring_ingest",
        "Cloud Monitoring chargeable metric data (log-based metrics)",
        "gcp",
        "MiB",
        150,
        "month",
        "https://cloud.google.com/stackdriver/pricing",
    ),
    Quota(
        "cosmos_throughput",
        "Cosmos DB throughput",
        "azure",
        "RU/s",
        1_000,
        "provisioned",
        "https://learn.microsoft.com/azure/cosmos-db/free-tier",
        verified="R AzureCosmosR docs: 'one free tier account per subscription'; figure from the design notes",
    ),
    Quota(
        "cosmos_storage",
        "Cosmos DB storage",
        "azure",
        "GB",
        25,
        "stored",
        "https://learn.microsoft.com/azure/cosmos-db/free-tier",
    ),
)
QUOTA_BY_KEY: dict[str, Quota] = {q.key: q for q in QUOTAS}
