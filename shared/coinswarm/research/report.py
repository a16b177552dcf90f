"""What `coinswarm optimize` prints: out of sample first, then in sample, per fold and in total.

Contract: `text(result)`, `to_json(result)` and `picture(result, path)` (a PNG through matplotlib, or a
self-contained HTML page with an SVG chart) all read one `SearchResult`. "In sample" is the chosen
trial of each fold on its train window; "out of sample" its backtest on the fold's test window, and in
total the test windows stitched into one curve. The drop is out-of-sample less in-sample: Sharpe, and
the annualised return (train and test windows differ in length, so their raw returns do not compare).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from statistics import fmean
from typing import Any

from coinswarm.research.objectives import WORST
from coinswarm.research.optimize import SearchResult, masked

SHORT_DAYS = 30  # a window shorter than this gives the annualised ratios too few daily returns
FIGURES = ("return_pct", "return_ann_pct", "sharpe", "max_drawdown_pct", "trades")


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _num(v: Any, fmt: str = "+.2f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, fmt)


def _mean(values: list[Any]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return fmean(finite) if finite else math.nan


def totals(result: SearchResult) -> dict[str, dict[str, float]]:
    ins = [f.in_sample for f in result.folds]
    oos = result.stitched.figures(result.plan.cash)
    in_total = {k: _mean([x.get(k) for x in ins]) for k in FIGURES if k != "trades"}
    in_total["trades"] = sum(int(x.get("trades") or 0) for x in ins)
    drop = {
        "sharpe": oos["sharpe"] - in_total["sharpe"],
        "return_ann_pct": oos["return_ann_pct"] - in_total["return_ann_pct"],
    }
    return {"out_of_sample": oos, "in_sample_mean": in_total, "drop": drop}


def text(result: SearchResult) -> str:
    p, s = result.plan, result.stitched
    t = totals(result)
    oos, ins, drop = t["out_of_sample"], t["in_sample_mean"], t["drop"]
    lines = [
        f"walk-forward search · {', '.join(result.symbols)} · {len(result.folds)} folds x {p.trials} trials · "
        f"objective {', '.join(p.objectives)} (at least {p.min_trades} trades) · "
        f"study {p.study} in {masked(p.storage)}",
        "",
        f"OUT OF SAMPLE: the {len(result.folds)} test windows stitched, {_day(s.ts[0])} -> {_day(s.ts[-1])}, "
        f"{len(s.ts):,} bars no trial saw",
        f"  return        {_num(oos['return_pct'])} %   (buy and hold {_num(oos['buy_hold_return_pct'])} %)",
        f"  sharpe        {_num(oos['sharpe'], '.2f')}",
        f"  max drawdown  {_num(oos['max_drawdown_pct'], '.2f')} %",
        f"  trades        {oos['trades']}",
        "",
        "IN SAMPLE: each fold's chosen trial on its own train window (mean of the folds; trades: sum)",
        f"  sharpe {_num(ins['sharpe'], '.2f')} · annualised return {_num(ins['return_ann_pct'])} % · "
        f"max drawdown {_num(ins['max_drawdown_pct'], '.2f')} % · trades {ins['trades']}",
        "",
        f"DROP OUT OF SAMPLE: sharpe {_num(ins['sharpe'], '.2f')} -> {_num(oos['sharpe'], '.2f')} "
        f"({_num(drop['sharpe'])}); annualised return {_num(ins['return_ann_pct'])} % -> "
        f"{_num(oos['return_ann_pct'])} % ({_num(drop['return_ann_pct'])} points)",
        "",
        "per fold          train from -> to                      test from -> to                     "
        "     IS: ret %  sharpe  maxDD %  trades |  OOS: ret %  sharpe  maxDD %  trades",
    ]
    for f in result.folds:
        i, o = f.in_sample, f.out_of_sample
        lines.append(
            f"  {f.fold.index:>2} ({f.trials:>4} trials) {_day(f.train_ts[0])} -> {_day(f.train_ts[1])}  "
            f"{_day(f.test_ts[0])} -> {_day(f.test_ts[1])}  "
            f"{_num(i.get('return_pct')):>10} {_num(i.get('sharpe'), '.2f'):>7} "
            f"{_num(i.get('max_drawdown_pct'), '.2f'):>8} {int(i.get('trades') or 0):>7} | "
            f"{_num(o['return_pct']):>10} {_num(o['sharpe'], '.2f'):>7} {_num(o['max_drawdown_pct'], '.2f'):>8} "
            f"{int(o['trades']):>7}"
        )
    days = min(f.test_ts[1] - f.test_ts[0] for f in result.folds) / 86_400
    if days < SHORT_DAYS:
        lines += [
            "",
            f"note: the test windows are {days:.1f} days long. Sharpe, Sortino and Calmar are annualised from daily "
            f"returns, so here they rest on a handful of days and swing wildly; judge by return and drawdown "
            "(objective return_dd or profit), or give more data.",
        ]
    idle = [f.fold.index for f in result.folds if f.values and f.values[0] <= WORST]
    if idle:
        lines += [
            "",
            f"note: in fold(s) {', '.join(map(str, idle))} no trial reached {p.min_trades} trades (or a defined "
            f"{p.objectives[0]}) in sample: their parameters were not chosen for a result. Widen [optimize.space], "
            "lower --min-trades, or give longer train windows.",
        ]
    last = result.folds[-1]
    lines += ["", f"chosen (fold {last.fold.index}'s best; --apply writes these):"]
    lines += [f"  {k} = {v!r}" for k, v in sorted(result.chosen.items())]
    if last.pareto:
        lines += ["", f"Pareto front of fold {last.fold.index} ({len(last.pareto)} trials, best first):"]
        for row in last.pareto[:10]:
            vals = ", ".join(f"{k} {v:.3f}" for k, v in row["values"].items())
            lines.append(f"  #{row['trial']}: {vals}")
    return "\n".join(lines)


def to_json(result: SearchResult) -> dict[str, Any]:
    p, s = result.plan, result.stitched
    t = totals(result)
    return {
        "out_of_sample": _clean(t["out_of_sample"]),
        "in_sample_mean": _clean(t["in_sample_mean"]),
        "drop": _clean(t["drop"]),
        "folds": [
            {
                **f.fold.to_json(),
                "train_ts": list(f.train_ts),
                "test_ts": list(f.test_ts),
                "trials": f.trials,
                "stored_trials": f.stored,
                "params": f.params,
                "values": dict(zip(p.objectives, f.values, strict=True)),
                "in_sample": _clean(f.in_sample),
                "out_of_sample": _clean(f.out_of_sample),
                "pareto": f.pareto,
            }
            for f in result.folds
        ],
        "chosen": result.chosen,
        "symbols": result.symbols,
        "stitched": {
            "ts": s.ts,
            "equity": [round(e, 6) for e in s.equity],
            "buy_hold": [round(b, 6) for b in s.buy_hold],
        },
        "search": {
            "objectives": list(p.objectives),
            "min_trades": p.min_trades,
            "trials_per_fold": p.trials,
            "study": p.study,
            "storage": masked(p.storage),
            "space": sorted(p.space),
        },
    }


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def picture(result: SearchResult, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".html", ".htm"):
        out.write_text(_html(result), encoding="utf-8")
        return out
    return _png(result, out)


def _title(result: SearchResult) -> str:
    oos = totals(result)["out_of_sample"]
    return (
        f"out of sample, {len(result.folds)} test windows stitched: return {_num(oos['return_pct'])} % "
        f"(buy and hold {_num(oos['buy_hold_return_pct'])} %), sharpe {_num(oos['sharpe'], '.2f')}, "
        f"max DD {_num(oos['max_drawdown_pct'], '.2f')} %"
    )


def _html(result: SearchResult) -> str:
    from coinswarm.backtest.svg_chart import Series, line_chart

    s = result.stitched
    chart = line_chart(
        _title(result),
        [
            Series("out-of-sample equity", "#1f4e79", s.ts, s.equity),
            Series("buy and hold", "#9e9e9e", s.ts, s.buy_hold),
        ],
    )
    css = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:1em auto}pre{font-size:12px}"
        ".grid{stroke:#ddd}.ylab,.xlab,.legend,.title{font-size:12px}.ylab{text-anchor:end}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>coinswarm optimize</title>'
        f"<style>{css}</style></head><body>{chart}<pre>{escape(text(result))}</pre></body></html>\n"
    )


def _png(result: SearchResult, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.stitched
    times: Any = [datetime.fromtimestamp(t, UTC) for t in s.ts]
    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=110)
    ax.plot(times, s.equity, color="#1f4e79", linewidth=1.0, label="out-of-sample equity")
    ax.plot(times, s.buy_hold, color="#9e9e9e", linewidth=1.0, label="buy and hold")
    for f in result.folds[1:]:
        ax.axvline(datetime.fromtimestamp(f.test_ts[0], UTC), color="#cccccc", linewidth=0.8)  # type: ignore[arg-type]
    ax.set_title(_title(result), fontsize=9)
    ax.set_ylabel("equity")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
