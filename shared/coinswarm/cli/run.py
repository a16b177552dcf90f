"""`coinswarm run`: trading cycles on the embedded store (paper, or live when so configured), one line per
symbol per cycle."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from coinswarm.cli.common import META_KEY, add_config_arg, err, fail, open_sqlite, remember_last_run, settings_from
from coinswarm.cli.report import CycleReporter
from coinswarm.cli.sources import DEFAULT_CYCLES, Source, resolve
from coinswarm.cli.state_lock import StateFileLock
from coinswarm.cli.stopping import EXIT_CODE as TERMINATED
from coinswarm.cli.stopping import SigtermStop, Terminated
from coinswarm.cli.summary import print_summary
from coinswarm.config.settings import Settings
from coinswarm.wiring.bootstrap import App, build_app
from coinswarm.wiring.runner import RUNNER_LEASE_S, CycleRunner

HELP = """Run trading cycles on the embedded SQLite store: on paper by default, LIVE (real orders at the
first venue) only when the configuration says mode = "live", live.confirm = true and gives keys.

Market data: live public candles from Coinbase Advanced Trade when reachable (a short connect
timeout, so an offline machine falls back at once to a seeded synthetic series, clearly labelled);
--replay FILE [FILE ...] replays candle files (one symbol each) as if they arrived live, the symbols
trading from one account as a live run's do; --synthetic asks for the synthetic series;
market.source = "venue" reads candles and book tops from the first venue's own client.

In live mode the data is always the venue's own, with no fallback: --replay, --synthetic and
market.source = "synthetic" are refused (live orders go out only on current prices), and so is a
venue that cannot be reached. The banner says LIVE, the venue and the per-order cap.

A replay runs through its whole file unless --cycles says otherwise; the banner says how many of its
first candles warm the agents up before the first cycle trades.

One run at a time trades on a state file: it holds an operating-system lock on PATH.lock beside it
for as long as it lives, and a second run is refused with the first one's process id. The lock ends
with its process however it ends, so a run started after a crash (kill -9, a power cut) starts at
once. SIGTERM (systemctl stop, docker stop) stops a run as Ctrl-C does: the cycle under way
finishes, the summary is printed.

Each cycle prints one line per symbol: time, symbol, close, every agent's vote (signal@confidence,
'--' for an abstention), the committee's decision with its confidence, and what order placement did.
The run ends with a summary and says where its state file is; `coinswarm status`, `ledger verify` and
`kill-switch` then find that file by themselves (noted in last-run.json beside store.path).

Replay and synthetic sessions are simulations: they start from a fresh state file of their own
(.coinswarm/replay-NAME.db, .coinswarm/synthetic.db) unless --state names one. Live sessions keep
trading on store.path across runs."""

EXAMPLES = """examples:
  coinswarm run --cycles 120                      # live data if reachable, else synthetic
  coinswarm run --replay ETH_BTC-5m.csv.gz --quiet
  coinswarm run --synthetic --wiring fused --seed 11
  COINSWARM_CONFIG=live.toml coinswarm run        # live, if that file says so (see the README)
  coinswarm status --state .coinswarm/synthetic.db"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="trade cycle by cycle (paper unless configured live)",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--replay",
        metavar="FILE",
        nargs="+",
        help="replay these candle files (CSV, optionally .gz, or Parquet; one symbol each) as if live",
    )
    src.add_argument("--synthetic", action="store_true", help="use the seeded synthetic series")
    p.add_argument(
        "--cycles",
        type=int,
        help=f"how many cycles to run (default: a replay's whole file, else {DEFAULT_CYCLES})",
    )
    p.add_argument("--seed", type=int, help="seed of the synthetic series (default market.synthetic_seed)")
    p.add_argument("--wiring", choices=["fused", "mesh"], help="run the stages fused or as a mesh (default: wiring)")
    p.add_argument("--state", metavar="PATH", help="state file (see above for the default)")
    p.add_argument(
        "--keep-state",
        action="store_true",
        help="continue a simulation's state file instead of starting fresh",
    )
    p.add_argument("--quiet", action="store_true", help="print only cycles where something was decided or done")
    p.set_defaults(func=main)


def state_path(args: argparse.Namespace, source: Source) -> tuple[Path, bool]:
    """The state file, and whether it is started afresh."""
    if args.state:
        return Path(args.state), False
    if source.kind == "live":
        return Path(source.settings.store.path), False
    replayed = "+".join(Path(f).name.split(".")[0] for f in args.replay or ())
    name = "synthetic" if source.kind == "synthetic" else f"replay-{replayed}"
    return Path(source.settings.store.path).parent / f"{name}.db", not args.keep_state


def main(args: argparse.Namespace) -> int:
    if args.cycles is not None and args.cycles < 1:
        fail("--cycles must be at least 1")
    overrides = {"wiring": args.wiring} if args.wiring else {}
    settings = settings_from(args, **overrides)
    cycles = args.cycles or DEFAULT_CYCLES
    source = resolve(settings, replay=args.replay, synthetic=args.synthetic, cycles=cycles, seed=args.seed)
    path, fresh = state_path(args, source)
    lock = StateFileLock(path)
    lock.acquire()  # before anything touches the file: a file another run holds is never reset
    try:
        remember_last_run(settings, path)
        return run_on(lock, settings, source, path, fresh, args)
    finally:
        lock.release()


def run_on(
    lock: StateFileLock, settings: Settings, source: Source, path: Path, fresh: bool, args: argparse.Namespace
) -> int:
    """The run, holding the state file's lock."""
    assert lock.held
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{path}{suffix}").unlink()
    data = source.settings.model_dump()
    data["store"]["path"] = str(path)
    settings = type(settings).model_validate(data)
    from coinswarm.adapters.sqlite_store import synchronous_for

    path.parent.mkdir(parents=True, exist_ok=True)
    store = open_sqlite(path, synchronous_for(settings.mode))
    local_claims = settings.store.coordination == "default"  # this file holds the cycles' claims
    if local_claims:
        left = store.drop_claims_in_progress()
        if left:
            err(
                f"note: {left} claim(s) in {path} were left by a run that ended during a cycle; dropped, so that "
                "this run takes that work over (an order it sent is found by its id, never sent twice)"
            )
    app = build_app(settings, market=source.market, store=store, clock=source.clock)
    if settings.mode == "live":
        refuse_a_paper_ledger(app, path)
    store.put(
        META_KEY,
        {
            "symbols": list(settings.symbols),
            "timeframe": settings.timeframe,
            "account": settings.account,
            "source": source.market.label,
        },
    )
    return trade(app, source, path, fresh, args, exclusive=local_claims)


def refuse_a_paper_ledger(app: App, path: Path) -> None:
    """Live fills must not join an account whose ledger already holds paper fills: the live book starts
    from the opening cash, so the two would never agree again, and the P&L would mix paper and money."""
    from coinswarm.adapters.live_broker import book_key

    account = app.settings.account
    fills = app.ledger.portfolio().fills
    if fills and app.state.get(book_key(account)) is None:
        fail(
            f"account {account!r} already holds {fills} paper fill(s) in {path}: live trading does not join a "
            'paper ledger. Give live trading its own account (account = "live") or state file (store.path)'
        )


def trading(settings: Settings) -> str:
    """What the banner says the session trades on: PAPER, or LIVE with the venue, where and the cap."""
    if settings.mode != "live":
        return "PAPER trading"
    live = settings.live
    where = f" at {live.venue_url} (live.venue_url)" if live.venue_url else " (REAL MONEY)"
    return (
        f"LIVE trading on {settings.primary_venue.name}{where} · orders up to "
        f"{live.max_order_notional:,.2f} each (live.max_order_notional)"
    )


def trade(app: App, source: Source, path: Path, fresh: bool, args: argparse.Namespace, *, exclusive: bool) -> int:
    """The cycles. `exclusive`: the state file's lock makes this run the only one (no runner lease needed
    in the coordination store, which a crash would leave behind)."""
    settings = app.settings
    reporter = CycleReporter(quiet=args.quiet)
    handlers = None
    if settings.wiring == "mesh":
        from functions.local import local_handlers

        handlers = local_handlers(app)
    runner = CycleRunner(
        app,
        wiring=settings.wiring,
        handlers=handlers,
        tap=reporter,
        owner=f"run-{time.time_ns()}",
        lease_s=None if exclusive else RUNNER_LEASE_S,
    )
    cycles = args.cycles if args.cycles is not None or source.kind == "replay" else DEFAULT_CYCLES
    print(
        f"Coinswarm · {trading(settings)} · data: {source.market.label}\n"
        f"  symbols {', '.join(settings.symbols)} · {settings.timeframe} candles · {settings.wiring} wiring · "
        f"committee threshold {settings.committee.threshold:.2f}, quorum {settings.committee.quorum}\n"
        f"  state {path}{' (fresh)' if fresh else ''}"
    )
    plan = source.warmup(cycles)
    if plan is not None:
        print(f"  {source.kind}: {plan.describe(settings.market.warmup_candles, asked=args.cycles is not None)}")
    if source.note:
        print(f"  note: {source.note}")
    started = time.perf_counter()
    ended, code = "", 0
    try:
        with SigtermStop() as sigterm:
            for ts in source.cycle_times(cycles):
                with sigterm.cycle():
                    runner.run_cycle(ts)
                if sigterm.requested:
                    raise Terminated
    except KeyboardInterrupt:
        ended, code = "interrupted", 130
    except Terminated:
        ended, code = "stopped by SIGTERM", TERMINATED
    finally:
        runner.release()
    print_summary(app, source, reporter, runner.cycles, time.perf_counter() - started, path, ended)
    return code
