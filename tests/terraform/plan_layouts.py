"""The layouts the configuration accepts, each planned by tests/terraform/test_terraform_plans.py: every
chain with the cycle on AWS and on Google Cloud, a stage on the other cloud, manual_trade on the other
cloud, at an hourly and a minutely cadence; and what a plan (`terraform show -json`) holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coinswarm.cli.main import main as coinswarm
from coinswarm.config.deploy import FUNCTIONS, PACKAGED

# What each plan is given beside `coinswarm deploy tfvars`: every secret (fake values, found nowhere but
# in SSM and Secret Manager), and tags with an upper-case key and a space (Google Cloud labels take neither).
SECRETS = {
    "manual_trade_secret": "fake-manual-trade-secret-plan",
    "push_secret": "fake-push-secret-plan",
    "exchange_api_key": "fake-exchange-key-plan",
    "exchange_api_secret": "fake-exchange-secret-plan",
}
TAGS = {"Project": "Coin Swarm", "owner": "ops"}
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
EXISTING_ACCOUNT = "my-own-history"


@dataclass(frozen=True)
class Layout:
    """A deploy section: the chain, the cloud of the cycle, the functions placed elsewhere, the cadence."""

    chain: str
    cycle: str
    timeframe: str
    moved: dict[str, str] = field(default_factory=dict)
    # the Google Cloud project has its (default) Firestore database, the Cosmos DB account a name of its own
    existing: bool = False

    @property
    def id(self) -> str:
        moved = "".join(f"-{f}-on-{c}" for f, c in self.moved.items())
        return f"{self.chain}-{self.cycle}{moved}-{self.timeframe}" + (
            "-existing-firestore-and-account" if self.existing else ""
        )

    @property
    def placement(self) -> dict[str, str]:
        return {**dict.fromkeys(FUNCTIONS, self.cycle), **self.moved}

    @property
    def cycle_minutes(self) -> int:
        return {"1m": 1, "1h": 60}[self.timeframe]

    def toml(self) -> str:
        placement = ", ".join(f'{f} = "{c}"' for f, c in self.placement.items())
        return (
            f'symbols = ["BTC-USD", "ETH-USD"]\ntimeframe = "{self.timeframe}"\n[aws]\ntable_prefix = "plan"\n'
            f'[gcp]\nproject = "coinswarm-plan"\n[deploy]\nchain = "{self.chain}"\nplacement = {{ {placement} }}\n'
            "memory_mb = 512\nlog_retention_days = 7\n"
        )


OTHER = {"aws": "gcp", "gcp": "aws"}
LAYOUTS = (
    Layout("invoke", "aws", "1m"),
    Layout("queues", "aws", "1h"),
    Layout("workflow", "aws", "1m"),
    Layout("invoke", "gcp", "1h"),
    Layout("queues", "gcp", "1m", existing=True),
    Layout("workflow", "gcp", "1h"),
    Layout("invoke", "aws", "1m", {"agent_scoring": "gcp"}),
    Layout("queues", "gcp", "1h", {"order_placement": "aws"}),
    Layout("invoke", "aws", "1h", {"manual_trade": "gcp"}),
    Layout("workflow", "aws", "1h", {"manual_trade": "gcp"}),
    Layout("workflow", "gcp", "1m", {"manual_trade": "aws"}),
)


def write_variables(layout: Layout, folder: Path, packages: Path) -> list[Path]:
    """The layout's variables: what `coinswarm deploy tfvars` writes from its configuration, and the
    deployment's own inputs (zips, subscription, secrets, tags); the -var-file arguments of its plan."""
    folder.mkdir()
    config = folder / "coinswarm.toml"
    config.write_text(layout.toml())
    tfvars = folder / "coinswarm.auto.tfvars.json"
    assert coinswarm(["deploy", "tfvars", "--config", str(config), "--out", str(tfvars)]) == 0
    deployment = folder / "deployment.tfvars.json"
    given = {"package_dir": str(packages), "azure_subscription_id": SUBSCRIPTION, "tags": TAGS, **SECRETS}
    if layout.existing:
        given |= {"gcp_create_firestore_database": False, "cosmos_account_name": EXISTING_ACCOUNT}
    deployment.write_text(json.dumps(given))
    return [tfvars, deployment]


def write_packages(folder: Path) -> Path:
    """A placeholder file where `make package` writes each zip (a plan hashes them; nothing runs them)."""
    for cloud in ("aws", "gcp"):
        (folder / cloud).mkdir(parents=True)
        for name in PACKAGED:
            (folder / cloud / f"{name}.zip").write_bytes(f"{cloud}/{name}".encode())
    return folder


@dataclass(frozen=True)
class Resource:
    """One resource a plan creates: its address, type, planned values and which of them are unknown."""

    address: str
    type: str
    values: dict[str, Any]
    unknown: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    layout: Layout
    resources: tuple[Resource, ...]
    document: dict[str, Any]

    @classmethod
    def read(cls, layout: Layout, shown: str) -> Plan:
        document = json.loads(shown)
        resources = []
        for change in document.get("resource_changes", []):
            if change.get("mode") != "managed":
                continue
            assert change["change"]["actions"] == ["create"], f"{change['address']}: {change['change']['actions']}"
            after = change["change"]["after"] or {}
            unknown = change["change"].get("after_unknown") or {}
            resources.append(Resource(change["address"], change["type"], after, unknown))
        return cls(layout, tuple(resources), document)

    def of(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.type == kind]

    def names(self, kind: str, attribute: str = "name") -> set[str]:
        return {r.values[attribute] for r in self.of(kind)}


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON value, with its path."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{path}[{i}]")
