"""`coinswarm budget`: a month of cloud usage projected from the configuration, against the free tiers."""

from __future__ import annotations

import argparse
import json

from coinswarm.budget import Budget, Line, project
from coinswarm.budget.model import cadence_text
from coinswarm.budget.usage import STORAGE_HORIZON_DAYS
from coinswarm.cli.common import add_config_arg, fail, settings_from
from coinswarm.cli.llm_budget import print_llm
from coinswarm.config.settings import Settings

HELP = f"""Project a month (30 days) of cloud usage from the configuration, the one the functions and the
Terraform read: symbols, timeframe (the cycle's cadence), wiring (fused | mesh) and the [deploy] section
(placement of each function on aws | gcp, chain = invoke | queues | workflow, memory_mb, durations_ms,
log_retention_days, min_instances, ...). Each free-tier quota is shown beside the projected use, its
share and the page that states it (with the date it was checked); provisioned capacities are shown
beside the load they carry.

The model is worst case where the code allows it: one invocation per symbol for every mesh stage (but
trade_logging on AWS, invoked per fill), every symbol held (its book re-priced each cycle),
risk.max_orders_per_day orders a day. Storage that never
expires is projected after {STORAGE_HORIZON_DAYS} days.

Exit status: 0 when every share is within --max-share (default deploy.max_share, 0.5: 2x headroom)
and no trap is set (Step Functions standard at a short cadence, more than 3 Cloud Scheduler jobs,
DynamoDB on demand, more than 10 custom CloudWatch metrics, an always-warm instance); 1 otherwise.

Examples:
  coinswarm budget                               the configuration as it is
  coinswarm budget --json | jq '.[] | select(.share > 0.25)'
  COINSWARM_WIRING=fused coinswarm budget        what fused wiring would cost
  COINSWARM_DEPLOY__CHAIN=queues coinswarm budget   what SQS event sources would cost (they poll)
  COINSWARM_TIMEFRAME=5m coinswarm budget        a 5-minute cycle
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "budget",
        help="a month of cloud usage projected against the free tiers; exit 1 over the limit",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument(
        "--max-share",
        type=_share,
        metavar="SHARE",
        help="the largest share of any quota accepted, in (0, 1] or as a percentage like 50%% "
        "(default: deploy.max_share)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of the lines instead of the table")
    p.add_argument("--all", action="store_true", help="also list the quotas of services the deployment does not use")
    p.set_defaults(func=main)


def _share(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share: give 0.5 or 50%") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share in (0, 1] (0.5 or 50%)")
    return value


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        budget = project(settings, max_share=args.max_share)
    except ValueError as exc:
        fail(f"cannot project this configuration: {exc}")
    if args.json:
        print(json.dumps([line.to_json() for line in budget.lines], indent=2))
    else:
        print_table(settings, budget, everything=args.all)
        print_llm(settings)
    return 0 if budget.ok else 1


def print_table(settings: Settings, budget: Budget, *, everything: bool = False) -> None:
    d = settings.deploy
    placed = ", ".join(f"{cloud}: {len(d.on(cloud))}" for cloud in ("aws", "gcp") if d.on(cloud))
    print(
        f"Coinswarm budget · {len(settings.symbols)} symbols {cadence_text(settings)} · {settings.wiring} wiring · "
        f"chain {d.chain} · functions {placed} · {d.memory_mb} MB · a month = 30 days"
    )
    shown = [line for line in budget.lines if everything or line.used > 0]
    width = max(len(line.quota) for line in shown) if shown else 10
    print(f"{'quota':<{width}}  {'cloud':<5}  {'projected use':>22}  {'limit':>22}  {'share':>7}  source")
    for line in shown:
        mark = " !" if line.share > budget.max_share else "  "
        print(
            f"{line.quota:<{width}}  {line.cloud:<5}  {_amount(line.used, line.unit):>22}  "
            f"{_amount(line.limit, line.unit) + _per(line):>22}  {line.share:>7.1%}{mark} {line.source}"
        )
    hidden = len(budget.lines) - len(shown)
    if hidden:
        print(f"({hidden} quotas of services this deployment does not use are at 0: --all lists them)")
    for note in budget.usage.notes:
        print(f"note: {note}")
    for trap in budget.traps:
        print(f"TRAP {trap.key}: {trap.message}")
    if budget.over:
        names = ", ".join(f"{line.quota} {line.share:.0%}" for line in budget.over)
        print(f"OVER the {budget.max_share:.0%} limit: {names}")
    if budget.ok:
        print(f"OK: every quota within {budget.max_share:.0%} of its free tier, no trap")


def _amount(value: float, unit: str) -> str:
    if value == int(value) and abs(value) >= 1:
        return f"{value:,.0f} {unit}"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.3g} {unit}" if value else f"0 {unit}"


def _per(line: Line) -> str:
    return {"month": "/mo", "day": "/day"}.get(line.period, "")
