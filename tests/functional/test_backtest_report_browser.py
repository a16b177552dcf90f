"""The backtest's HTML report opened in a real headless Chromium: every chart draws, no script errs,
and the page holds the figures the text report gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import body_attributes, file_url, rendered_dom
from coinswarm.backtest.analysis import PriceSeries, analyse
from coinswarm.backtest.engine import BacktestOptions, run_backtest
from coinswarm.backtest.html_report import write_report
from coinswarm.config.settings import Settings
from coinswarm.marketdata.candle_files import load_candles

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ohlcv"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = DATA / "ETH_BTC-5m.csv.gz"
    if not path.exists():
        pytest.skip(f"the reference data is not beside the project ({path})")
    candles = load_candles(path).candles[:3_000]
    result = run_backtest(candles, Settings(), BacktestOptions(strategy="sma-cross"))
    analysis = analyse(
        strategy=result.strategy,
        start_equity=result.metrics.start_equity,
        ts=result.ts,
        equity=result.equity,
        prices=[PriceSeries(result.symbol, [c.close for c in candles])],
        fills=result.fills,
    )
    assert analysis.trades, "the sample should trade"
    out = tmp_path_factory.mktemp("report")
    write_report(analysis, out, {"symbol": result.symbol})
    return out


def test_the_report_renders_every_chart_without_errors(report: Path) -> None:
    dom = rendered_dom(file_url(report / "report.html"))
    attrs = body_attributes(dom)
    assert attrs.get("data-errors") == "", attrs.get("data-errors")
    # equity against buy-and-hold, drawdown, monthly returns, and one price chart for the one symbol
    assert attrs.get("data-charts") == "4"
    assert "Exit reasons" in dom and "ETH-BTC" in dom


def test_the_report_writes_its_trades_and_summary(report: Path) -> None:
    import csv
    import json

    rows = list(csv.DictReader((report / "trades.csv").open()))
    summary = json.loads((report / "summary.json").read_text())
    assert len(rows) == summary["trades"] == len(summary["trade_list"]) > 0
    assert rows[0]["exit_reason"] and float(rows[0]["entry_price"]) > 0
