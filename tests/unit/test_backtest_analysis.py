"""The analysis behind every backtest report: closed trades from fills, per-symbol and buy-and-hold
curves, the monthly view, and the text and JSON forms of the report."""

from __future__ import annotations

import math

import pytest

from coinswarm.backtest.analysis import PriceSeries, analyse, buy_and_hold, symbol_equity
from coinswarm.backtest.html_report import render_html
from coinswarm.backtest.text_report import WIDTH, analysis_json, text_report
from coinswarm.backtest.trades import bar_index, closed_trades, monthly
from coinswarm.domain.models import ExitReason, Fill, Side

DAY = 86_400
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def fill(n: int, symbol: str, side: Side, qty: float, price: float, fee: float, ts: int, reason=None) -> Fill:
    return Fill(
        fill_id=f"f{n}",
        client_order_id=f"o{n}",
        symbol=symbol,
        side=side,
        quantity=qty,
        price=price,
        fee=fee,
        ts=ts,
        exit_reason=reason,
    )


def test_a_round_trip_in_parts_is_one_trade_at_volume_weighted_prices() -> None:
    fills = [
        fill(0, "A-B", Side.SELL, 1.0, 10.0, 0.1, T0),  # nothing held: no trade to close
        fill(1, "A-B", Side.BUY, 1.0, 10.0, 0.1, T0 + 60),
        fill(2, "A-B", Side.BUY, 3.0, 12.0, 0.3, T0 + 120),
        fill(3, "A-B", Side.SELL, 2.0, 13.0, 0.2, T0 + 180),
        fill(4, "A-B", Side.SELL, 2.0, 14.0, 0.2, T0 + 3_780, ExitReason.STOP_LOSS),
        fill(5, "A-B", Side.BUY, 1.0, 14.0, 0.1, T0 + 4_000),  # still open at the end
    ]
    (t,) = closed_trades(fills, {"o1": "trend +1.00@0.90"})
    assert t.entry_price == pytest.approx((10 + 36) / 4)
    assert t.exit_price == pytest.approx((26 + 28) / 4)
    assert t.quantity == 4.0 and t.fees == pytest.approx(0.8)
    assert t.pnl == pytest.approx(54 - 46 - 0.8)
    assert t.return_frac == pytest.approx(t.pnl / 46)
    assert t.exit_reason == "stop_loss" and t.votes == "trend +1.00@0.90"
    assert t.duration_hours == pytest.approx(3_720 / 3600)


def test_a_sell_without_a_reason_is_a_signal_exit() -> None:
    fills = [fill(1, "A-B", Side.BUY, 1.0, 10.0, 0.0, T0), fill(2, "A-B", Side.SELL, 1.0, 11.0, 0.0, T0 + 60)]
    assert closed_trades(fills)[0].exit_reason == "signal"


def test_bar_index_finds_the_last_bar_at_or_before() -> None:
    bars = [100, 200, 300]
    assert [bar_index(bars, x) for x in (50, 100, 150, 300, 999)] == [0, 0, 0, 2, 2]


def _two_symbols() -> tuple[list[int], list[PriceSeries], list[Fill]]:
    ts = [T0 + k * 3600 for k in range(24 * 70)]  # 70 days of hourly bars, across two month ends
    a = [100 * (1 + 0.3 * math.sin(k / 40)) for k in range(len(ts))]
    b = [50 * (1 + 0.001 * k) for k in range(len(ts))]
    fills = []
    n = 0
    for k in range(10, len(ts) - 50, 97):
        for sym, px in (("A-B", a), ("C-B", b)):
            fills.append(fill(n, sym, Side.BUY, 5.0, px[k], 0.5, ts[k] - 1))
            fills.append(fill(n + 1, sym, Side.SELL, 5.0, px[k + 30], 0.5, ts[k + 30] - 1, ExitReason.ROI))
            n += 2
    fills.sort(key=lambda f: f.ts)
    return ts, [PriceSeries("A-B", a), PriceSeries("C-B", b)], fills


def test_per_symbol_curves_add_up_to_the_account() -> None:
    ts, prices, fills = _two_symbols()
    account = symbol_equity(ts, [0.0] * len(ts), [], 10_000.0)  # cash alone
    for p in prices:
        own = symbol_equity(ts, p.close, [f for f in fills if f.symbol == p.symbol], 5_000.0)
        account = [x + y - 5_000.0 for x, y in zip(account, own, strict=True)]
    a = analyse(strategy="t", start_equity=10_000.0, ts=ts, equity=account, prices=prices, fills=fills)
    assert a.stats.trades == sum(s.trades for s in a.per_symbol.values()) == len(a.trades)
    pnl = sum(t.pnl for t in a.trades)
    assert a.stats.equity_final - 10_000.0 == pytest.approx(pnl)
    assert sum(s.equity_final - 5_000.0 for s in a.per_symbol.values()) == pytest.approx(pnl)
    assert a.exit_reasons == {"roi": len(a.trades)}


def test_one_symbol_has_the_account_figures() -> None:
    ts, prices, fills = _two_symbols()
    own = [f for f in fills if f.symbol == "A-B"]
    equity = symbol_equity(ts, prices[0].close, own, 10_000.0)
    a = analyse(strategy="t", start_equity=10_000.0, ts=ts, equity=equity, prices=prices[:1], fills=own)
    assert a.per_symbol["A-B"] == a.stats


def test_buy_and_hold_of_a_portfolio_returns_the_mean_of_its_symbols() -> None:
    _, prices, _ = _two_symbols()
    bh = buy_and_hold(prices, 1_000.0)
    each = [p.close[-1] / p.close[0] - 1 for p in prices]
    assert bh[-1] / bh[0] - 1 == pytest.approx(sum(each) / 2)


def test_the_months_compound_to_the_whole_return() -> None:
    ts, prices, fills = _two_symbols()
    equity = symbol_equity(ts, prices[0].close, [f for f in fills if f.symbol == "A-B"], 10_000.0)
    months = monthly(ts, equity, closed_trades(fills), 10_000.0)
    assert [m.month for m in months] == ["2024-01", "2024-02", "2024-03"]
    grown = math.prod(1 + m.return_pct / 100 for m in months)
    assert grown == pytest.approx(equity[-1] / 10_000.0)
    assert sum(m.trades for m in months) == len(closed_trades(fills))


REQUIRED_JSON = {
    "cagr_pct", "return_ann_pct", "volatility_ann_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct",
    "avg_drawdown_pct", "max_drawdown_duration_days", "exposure_pct", "win_rate_pct", "best_trade_pct",
    "worst_trade_pct", "avg_trade_pct", "max_trade_duration_hours", "avg_trade_duration_hours", "profit_factor",
    "expectancy_pct", "sqn", "buy_hold_return_pct", "fees", "exit_reasons", "per_symbol", "monthly", "trade_list",
}  # fmt: skip


def test_the_report_fits_a_terminal_and_the_json_has_every_figure() -> None:
    ts, prices, fills = _two_symbols()
    account = symbol_equity(ts, prices[0].close, [f for f in fills if f.symbol == "A-B"], 10_000.0)
    a = analyse(strategy="committee", start_equity=10_000.0, ts=ts, equity=account, prices=prices, fills=fills)
    text = text_report(a)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    for section in ("Summary", "Per symbol", "Exit reasons", "Monthly", "buy-and-hold"):
        assert section in text
    js = analysis_json(a)
    assert js.keys() >= REQUIRED_JSON
    assert [row["symbol"] for row in js["per_symbol"]] == ["A-B", "C-B"]
    first = js["trade_list"][0]
    assert {
        "symbol",
        "entry_time",
        "exit_time",
        "pnl",
        "pnl_pct",
        "fees",
        "duration_hours",
        "exit_reason",
    } <= first.keys()
    assert js["monthly"]["2024-02"]["trades"] > 0


@pytest.mark.parametrize("count", [3, 12])
def test_the_summary_names_every_symbol_of_a_portfolio_or_counts_them(count: int) -> None:
    ts, prices, _ = _two_symbols()
    names = [f"COIN{k}-USD" for k in range(count)]
    series = [PriceSeries(name, prices[k % 2].close) for k, name in enumerate(names)]
    flat = [10_000.0] * len(ts)
    a = analyse(strategy="committee", start_equity=10_000.0, ts=ts, equity=flat, prices=series, fills=[])
    lines = text_report(a).splitlines()
    heading = next(line for line in lines if line.startswith("Summary"))
    strategy = next(line for line in lines if line.lstrip().startswith("Strategy "))
    if count == 3:  # the heading lists them all; the summary's 30 columns count them
        assert heading == f"Summary: committee on {', '.join(names)}"
    else:  # too many for a heading too
        assert heading == f"Summary: committee on {count} symbols"
    assert f"committee on {count} symbols" in strategy
    assert max(len(line) for line in lines) <= WIDTH


def test_the_page_is_self_contained() -> None:
    ts, prices, fills = _two_symbols()
    account = symbol_equity(ts, prices[0].close, [f for f in fills if f.symbol == "A-B"], 10_000.0)
    a = analyse(strategy="<b>x</b>", start_equity=10_000.0, ts=ts, equity=account, prices=prices, fills=fills)
    html = render_html(a, "t")
    assert html.count('<svg class="chart"') == 3 + len(prices)
    assert "<b>x</b>" not in html  # text is escaped
    for ref in ("src=", "href=", "@import", "url("):
        assert ref not in html
