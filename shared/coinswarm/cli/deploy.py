"""`coinswarm deploy tfvars`: the configuration as Terraform variables (JSON), so that `terraform/` reads
the one configuration the code runs on. Terraform cannot read TOML, hence this small bridge.

What it writes (`terraform/variables.tf` describes each):

* from the top level and `deploy`: `symbols`, `timeframe`, `cycle_minutes`, `placement`, `chain`,
  `memory_mb`, `timeout_s`, `log_retention_days`;
* names the code derives its resources from: `name_prefix` (`aws.table_prefix`: tables, queues, SSM
  parameters), `function_names` (each function's deployed name, `coinswarm.config.deploy.deployed_name`:
  what a function invoking the next one calls), `gcp_topic_prefix` (`gcp.collection_prefix`: Pub/Sub
  topics), `aws_region`, `gcp_project`, `cosmos_database`;
* `settings_environment`: every other setting that differs from its default, as the `COINSWARM_*`
  variables the loader reads, so each deployed function runs the configuration the user wrote. Left
  out: secrets (they go to SSM / Secret Manager as sensitive Terraform variables, never into a file),
  the store, cloud and deployment sections (the Terraform sets them from what it creates), and `mode` /
  `live` (a deployment trades on paper; live trading is a deliberate step this file never takes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from coinswarm.cli.common import add_config_arg, fail, settings_from
from coinswarm.config.deploy import FUNCTIONS, PUSH_RECEIVER, TELEGRAM_WEBHOOK, deployed_name
from coinswarm.config.settings import Settings

DEFAULT_OUT = "terraform/coinswarm.auto.tfvars.json"
# What CloudWatch Logs accepts as a retention (days); GCP and Azure keep their own defaults.
CLOUDWATCH_RETENTION_DAYS: tuple[int, ...] = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731),
    *(1096, 1827, 2192, 2557, 2922, 3288, 3653),
)
# Sections and fields the Terraform sets itself, or that must not travel in an environment variable.
NOT_IN_ENVIRONMENT = frozenset({"mode", "live", "store", "aws", "azure", "gcp", "deploy"})
SECRET_FIELDS = frozenset(
    {
        "api_key",
        "api_secret",
        "cosmos_key",
        # the remote control's ([notify], [remote]): SSM / Secret Manager, like the others
        "telegram_bot_token",
        "discord_webhook_url",
        "slack_webhook_url",
        "webhook_url",
        "telegram_webhook_secret",
        "status_token",
    }
)
ENV_PREFIX = "COINSWARM_"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = sub.add_parser("deploy", help="deployment helpers", description="Helpers for deploying Coinswarm.")
    dsub = deploy.add_subparsers(dest="deploy_command", required=True, metavar="COMMAND")
    tfvars = dsub.add_parser(
        "tfvars",
        help="write the configuration as Terraform variables (JSON)",
        description="Write the configuration's symbols, cadence, placement, memory, chaining and log retention, "
        "and every other non-default, non-secret setting, as a Terraform variables file (JSON). Terraform loads "
        "terraform/*.auto.tfvars.json by itself. Secrets are never written: give them to Terraform as "
        "TF_VAR_* variables.",
    )
    add_config_arg(tfvars)
    tfvars.add_argument(
        "--out", default=DEFAULT_OUT, metavar="FILE", help=f"where to write (default {DEFAULT_OUT}); - for stdout"
    )
    tfvars.set_defaults(func=tfvars_main)


def tfvars_main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    text = json.dumps(tfvars(settings), indent=2, sort_keys=True) + "\n"
    if args.out == "-":
        print(text, end="")
        return 0
    out = Path(args.out)
    if not out.parent.is_dir():
        fail(f"cannot write {out}: the folder {out.parent} does not exist (run from the project's root, or give --out)")
    out.write_text(text)
    print(f"wrote {out}: {len(settings.symbols)} symbol(s), every {settings.timeframe}, placement {_placed(settings)}")
    return 0


def tfvars(settings: Settings) -> dict[str, Any]:
    """The Terraform variables of this configuration."""
    deploy = settings.deploy
    if deploy.log_retention_days not in CLOUDWATCH_RETENTION_DAYS:
        fail(
            f"deploy.log_retention_days = {deploy.log_retention_days} is not a retention CloudWatch Logs offers; "
            f"use one of {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}"
        )
    return {
        "name_prefix": settings.aws.table_prefix,
        "function_names": function_names(settings.aws.table_prefix),
        "gcp_topic_prefix": settings.gcp.collection_prefix,
        "aws_region": settings.aws.region,
        "gcp_project": settings.gcp.project,
        "cosmos_database": settings.azure.cosmos_database,
        "symbols": list(settings.symbols),
        "timeframe": settings.timeframe,
        "cycle_minutes": settings.timeframe_s // 60,
        "placement": dict(deploy.placement),
        "chain": deploy.chain,
        "memory_mb": deploy.memory_mb,
        "timeout_s": deploy.timeout_s,
        "log_retention_days": deploy.log_retention_days,
        "settings_environment": settings_environment(settings),
        # telegram_webhook and its alarms (terraform/remote.tf), when a webhook secret or status token is set
        "remote_control": {"enabled": remote_deployed(settings), "late_periods": settings.remote.late_after_periods},
    }


def remote_deployed(settings: Settings) -> bool:
    from coinswarm.budget.usage import remote_deployed as counted

    return counted(settings)


def function_names(prefix: str) -> dict[str, str]:
    """The name each function is deployed under (Lambda function and Cloud Function alike)."""
    return {f: deployed_name(f, prefix) for f in (*FUNCTIONS, PUSH_RECEIVER, TELEGRAM_WEBHOOK)}


def settings_environment(settings: Settings) -> dict[str, str]:
    """The non-default settings a function needs, as COINSWARM_<SECTION>__<FIELD> = JSON (what the
    loader parses back), secrets and deployment plumbing left out."""
    changed = settings.model_dump(mode="json", exclude_defaults=True)
    env: dict[str, str] = {}
    for key, value in changed.items():
        if key in NOT_IN_ENVIRONMENT:
            continue
        if key == "venues":  # always whole: the loader replaces the list, so send every venue, keys left out
            value = [_without_secrets(v) for v in settings.model_dump(mode="json")["venues"]]
            env[f"{ENV_PREFIX}VENUES"] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, dict) and key not in ("agents",):
            _flatten(env, (key,), value)
        else:
            env[f"{ENV_PREFIX}{key.upper()}"] = json.dumps(value, separators=(",", ":"))
    return env


def _flatten(env: dict[str, str], path: tuple[str, ...], node: dict[str, Any]) -> None:
    for key, value in node.items():
        if key in SECRET_FIELDS:
            continue
        name = ENV_PREFIX + "__".join(part.upper() for part in (*path, key))
        if isinstance(value, dict) and key != "weights":  # weights: one JSON map, as the file gives it
            _flatten(env, (*path, key), value)
        else:
            env[name] = json.dumps(value, separators=(",", ":"))


def _without_secrets(venue: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in venue.items() if k not in SECRET_FIELDS and v is not None}


def _placed(settings: Settings) -> str:
    clouds: dict[str, list[str]] = {}
    for function, cloud in settings.deploy.placement.items():
        clouds.setdefault(cloud, []).append(function)
    return "; ".join(f"{cloud}: {len(fs)} function(s)" for cloud, fs in sorted(clouds.items()))
