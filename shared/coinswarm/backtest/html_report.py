"""`coinswarm backtest --report DIR`: report.html, trades.csv and summary.json.

Contract: `write_report(analysis, directory, summary)` writes the three files and returns their paths.
report.html is one self-contained page (inline SVG and CSS, a few lines of script that only check the
charts drew; nothing is fetched, so it opens offline): the summary, price with entries and exits per
symbol, equity against buy-and-hold, the drawdown, monthly returns, the per-symbol and exit-reason
tables and the trade list. After loading, the page sets `data-charts` on <body> to the number of
charts that drew and `data-errors` to the script errors it saw (a browser test reads both).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from coinswarm.backtest.analysis import Analysis
from coinswarm.backtest.svg_chart import Marker, Series, bar_chart, line_chart
from coinswarm.backtest.text_report import _f, analysis_json

MAX_MARKERS = 600  # per symbol: beyond this only the newest trades are marked (the table lists them all)
MAX_TRADE_ROWS = 2_000
REASON_COLORS = {
    "signal": "#6a1b9a",
    "stop_loss": "#c62828",
    "trailing_stop": "#ef6c00",
    "roi": "#1565c0",
    "max_hold": "#6d4c41",
    "flatten": "#37474f",
    "end_of_backtest": "#757575",
}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:12px;color:#222;background:#fafafa}
h1{font-size:20px;margin:8px 0} h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #ddd}
.chart{width:100%;height:auto;background:#fff;border:1px solid #e3e3e3;margin:6px 0}
.chart .title{font-weight:600;font-size:13px} .chart .grid{stroke:#eee}
.chart .ylab{font-size:11px;text-anchor:end;fill:#555}
.chart .xlab{font-size:11px;fill:#555} .chart .legend{font-size:12px;font-weight:600}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:4px 0}
td,th{padding:3px 8px;border:1px solid #e3e3e3;text-align:right} th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:4px 18px}
.kv{display:flex;justify-content:space-between;border-bottom:1px dotted #ddd;padding:2px 0}
.pos{color:#2e7d32} .neg{color:#c62828} .note{color:#666;font-size:12px}
"""

CHECK = """
<script>
(function(){
  var errors=[];
  window.addEventListener('error',function(e){errors.push(String(e.message||e));});
  window.addEventListener('load',function(){
    var drawn=0;
    document.querySelectorAll('svg.chart').forEach(function(svg){
      var box=svg.getBoundingClientRect(), shapes=svg.querySelectorAll('path.series,rect.bar');
      var ok=box.width>0&&box.height>0&&shapes.length>0;
      shapes.forEach(function(s){var b=s.getBBox(); if(!(b.width>0||b.height>0)) ok=false;});
      if(ok) drawn++; else errors.push('chart did not draw: '+svg.getAttribute('aria-label'));
    });
    document.body.setAttribute('data-charts',String(drawn));
    document.body.setAttribute('data-errors',errors.join(' | '));
  });
})();
</script>
"""


def _kv(items: list[tuple[str, str]]) -> str:
    return "".join(f'<div class="kv"><span>{escape(k)}</span><b>{escape(v)}</b></div>' for k, v in items)


def _signed(x: float, fmt: str = "{:+.2f} %") -> str:
    text = escape(_f(x, fmt))
    cls = "pos" if x > 0 else "neg" if x < 0 else ""
    return f'<span class="{cls}">{text}</span>'


def _summary(a: Analysis) -> str:
    s = a.stats
    items = [
        ("Return", _f(s.return_pct, "{:+.2f} %")),
        ("Buy & hold", _f(s.buy_hold_return_pct, "{:+.2f} %")),
        ("CAGR", _f(s.cagr_pct, "{:+.2f} %")),
        ("Sharpe", _f(s.sharpe, "{:.2f}")),
        ("Sortino", _f(s.sortino, "{:.2f}")),
        ("Calmar", _f(s.calmar, "{:.2f}")),
        ("Max drawdown", _f(s.max_drawdown_pct, "{:.2f} %")),
        ("Max DD duration", _f(s.max_drawdown_duration_days, "{:.1f} days")),
        ("Trades", str(s.trades)),
        ("Win rate", _f(s.win_rate_pct, "{:.1f} %")),
        ("Profit factor", _f(s.profit_factor, "{:.2f}")),
        ("Expectancy", _f(s.expectancy_pct, "{:+.2f} %")),
        ("SQN", _f(s.sqn, "{:.2f}")),
        ("Exposure", _f(s.exposure_pct, "{:.1f} %")),
        ("Equity", f"{a.start_equity:,.2f} → {s.equity_final:,.2f}"),
        ("Fees paid", f"{a.fees:,.2f}"),
    ]
    return f'<div class="grid2">{_kv(items)}</div>'


def _price_chart(a: Analysis, k: int) -> str:
    p = a.prices[k]
    trades = [t for t in a.trades if t.symbol == p.symbol][-MAX_MARKERS:]
    markers: list[Marker] = []
    for t in trades:
        markers.append(Marker(t.entry_ts, t.entry_price, "up", "#2e7d32", f"entry {t.entry_price:.6g}"))
        markers.append(
            Marker(
                t.exit_ts,
                t.exit_price,
                "down",
                REASON_COLORS.get(t.exit_reason, "#c62828"),
                f"exit {t.exit_price:.6g} ({t.exit_reason}) P&L {t.pnl_pct:+.2f} %",
            )
        )
    shown = len([t for t in a.trades if t.symbol == p.symbol])
    title = f"{p.symbol}: price, entries ▲ and exits ▼ ({shown} trades)"
    return line_chart(title, [Series(p.symbol, "#1f4e79", a.ts, p.close)], markers)


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def render_html(a: Analysis, title: str) -> str:
    s = a.stats
    month_labels = [m.month for m in a.months]
    charts = [
        line_chart(
            "Equity against buy-and-hold",
            [Series("strategy", "#1f4e79", a.ts, a.equity), Series("buy & hold", "#9e9e9e", a.ts, a.buy_hold)],
        ),
        line_chart("Drawdown", [Series("drawdown", "#c62828", a.ts, a.drawdown_pct, fill=True)], unit=" %"),
        bar_chart("Monthly returns", month_labels, [m.return_pct for m in a.months]),
    ]
    prices = "".join(_price_chart(a, k) for k in range(len(a.prices)))
    per_symbol = _table(
        ["symbol", "return", "buy & hold", "max DD", "Sharpe", "trades", "win rate", "profit factor"],
        [
            [
                escape(sym),
                _signed(x.return_pct),
                _signed(x.buy_hold_return_pct),
                escape(_f(x.max_drawdown_pct, "{:.2f} %")),
                escape(_f(x.sharpe, "{:.2f}")),
                str(x.trades),
                escape(_f(x.win_rate_pct, "{:.1f} %")),
                escape(_f(x.profit_factor, "{:.2f}")),
            ]
            for sym, x in a.per_symbol.items()
        ],
    )
    reasons = _table(
        ["exit reason", "trades", "total P&L"],
        [
            [escape(r), str(n), f"{sum(t.pnl for t in a.trades if t.exit_reason == r):+,.2f}"]
            for r, n in a.exit_reasons.items()
        ],
    )
    months = _table(
        ["month", "return", "trades"], [[escape(m.month), _signed(m.return_pct), str(m.trades)] for m in a.months]
    )
    listed = a.trades[-MAX_TRADE_ROWS:]
    trades = _table(
        ["symbol", "entry", "exit", "entry price", "exit price", "P&L", "P&L %", "hours", "exit reason"],
        [
            [
                escape(t.symbol),
                escape(t.to_json()["entry_time"]),  # type: ignore[arg-type]
                escape(t.to_json()["exit_time"]),  # type: ignore[arg-type]
                f"{t.entry_price:.6g}",
                f"{t.exit_price:.6g}",
                f"{t.pnl:+,.2f}",
                _signed(t.pnl_pct),
                f"{t.duration_hours:.1f}",
                escape(t.exit_reason),
            ]
            for t in reversed(listed)
        ],
    )
    more = (
        f'<p class="note">The newest {len(listed)} of {len(a.trades)} trades; trades.csv has them all.</p>'
        if len(listed) < len(a.trades)
        else ""
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{CSS}</style>{CHECK}</head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="note">{escape(a.strategy)} on {escape(", ".join(a.symbols))}; '
        f"return {_signed(s.return_pct)} against buy-and-hold {_signed(s.buy_hold_return_pct)}.</p>"
        f"{_summary(a)}<h2>Equity</h2>{charts[0]}{charts[1]}<h2>Prices and trades</h2>{prices}"
        f"<h2>Monthly returns</h2>{charts[2]}{months}<h2>Per symbol</h2>{per_symbol}"
        f"<h2>Exit reasons</h2>{reasons}<h2>Trades</h2>{more}{trades}</body></html>"
    )


TRADE_COLUMNS = [
    "symbol",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "quantity",
    "pnl",
    "pnl_pct",
    "fees",
    "duration_hours",
    "exit_reason",
    "votes",
]


def write_report(a: Analysis, directory: str | Path, summary: Mapping[str, Any], title: str = "") -> list[Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    html = out / "report.html"
    html.write_text(render_html(a, title or f"Coinswarm backtest: {a.strategy} on {', '.join(a.symbols)}"))
    trades = out / "trades.csv"
    with trades.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=TRADE_COLUMNS)
        w.writeheader()
        for t in a.trades:
            w.writerow(t.to_json())
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps({**summary, **analysis_json(a)}, indent=2) + "\n")
    return [html, trades, summary_path]
