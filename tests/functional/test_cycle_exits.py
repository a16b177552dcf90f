"""The exit rules in the trading cycle (paper, fused and mesh, and `coinswarm run --replay`): a falling
market exits at the stop, during the candle that crossed it, with the reason kept with the fill, shown
in the cycle line, in status and in the ledger; a halted bot still exits; the kill switch stops the
exit but not the owner's flatten; candles a cycle did not see are checked; the exit state is kept in
the state store (a restart, another function) and follows positions opened or closed outside a cycle."""

from __future__ import annotations

import contextlib
import json

import pytest
from functional_builders import START

from coinswarm.cli.main import main
from coinswarm.config.settings import Settings
from coinswarm.domain.models import Candle, ExitReason, Fill, FillRecorded, Side
from coinswarm.domain.risk import RiskDay
from coinswarm.marketdata.candle_files import write_candles
from coinswarm.stages.controls import flatten
from coinswarm.stages.exit_watch import exits_key
from coinswarm.stages.placement import set_kill_switch
from coinswarm.wiring.bootstrap import build_app
from coinswarm.wiring.runner import CycleRunner
from functions.local import local_handlers

SYMBOL = "BTC-USD"
TF = 60
WARM = 5
SLIP = 5 / 1e4  # the paper broker's default slippage
RISE = 11  # the candle whose open the entry fills at (sma 2/4 crosses up at the close before it)
DROP = 18  # the candle that falls through the stop: open 108.5, low 80


def falling_market() -> list[Candle]:
    """Down 100 -> 91, up to 108.5 (the fast SMA crosses above the slow one: a BUY), flat, then a candle that
    trades down to 80 and closes at 85, and a slide."""
    closes = [100.0 - i for i in range(10)] + [95.0, 100.0, 105.0, 106.0, 107.0, 107.5, 108.0, 108.5]
    bars, before = [], closes[0]
    for i, c in enumerate(closes):
        o = before
        bars.append(
            Candle(
                symbol=SYMBOL, ts=START + TF * i, open=o, high=max(o, c) + 0.5, low=min(o, c) - 0.5, close=c, volume=1.0
            )
        )
        before = c
    for j, (o, h, lo, c) in enumerate([(108.5, 109.0, 80.0, 85.0), (85.0, 86.0, 83.0, 84.0), (84.0, 85.0, 82.0, 83.0)]):
        bars.append(
            Candle(symbol=SYMBOL, ts=START + TF * (len(closes) + j), open=o, high=h, low=lo, close=c, volume=1.0)
        )
    return bars


BARS = falling_market()


def cfg(**sections: dict) -> Settings:
    """One symbol, the sma 2/4 cross as the whole committee, the default stop-loss (10 %)."""
    data = Settings().model_dump()
    data.update(
        symbols=[SYMBOL],
        committee={"weights": {"sma_cross": 1.0}, "quorum": 1, "threshold": 1.0, "cache": {"enabled": False}},
        agents={"sma_cross": {"fast": 2, "slow": 4}},
    )
    data["market"]["warmup_candles"] = WARM
    for name, values in sections.items():
        data[name] = {**data[name], **values}
    return Settings.model_validate(data)


def fills_of(app) -> list[Fill]:
    return [e.payload.fill for e in app.ledger.events() if isinstance(e.payload, FillRecorded)]


def runner_for(make_app, settings: Settings, wiring: str = "fused"):
    app, clock = make_app(settings, {SYMBOL: BARS})
    handlers = local_handlers(app) if wiring == "mesh" else None
    runner = CycleRunner(app, wiring=wiring, handlers=handlers)

    def cycle(i: int) -> None:  # the cycle at the close of candle i
        clock.set(BARS[i].close_ts)
        runner.run_cycle(BARS[i].close_ts)

    return app, cycle


def entry_of(app) -> Fill:
    (buy,) = [f for f in fills_of(app) if f.side is Side.BUY]
    assert buy.ts == BARS[RISE].ts, "the entry fills at the open after the cross"
    return buy


@pytest.mark.parametrize("wiring", ["fused", "mesh"])
def test_a_falling_market_exits_at_the_stop_during_the_candle_that_crossed_it(make_app, wiring) -> None:
    app, cycle = runner_for(make_app, cfg(), wiring)
    for i in range(WARM - 1, len(BARS)):
        cycle(i)
    entry = entry_of(app)
    (sold,) = [f for f in fills_of(app) if f.side is Side.SELL]
    assert sold.exit_reason is ExitReason.STOP_LOSS
    assert sold.ts == BARS[DROP].close_ts and sold.quantity == pytest.approx(entry.quantity)  # that cycle's
    assert sold.price == pytest.approx(entry.price * 0.9 * (1 - SLIP))  # at the stop, not the low or the close
    assert app.history.recent_rejections(10) == [] and app.ledger.verify().ok
    assert app.state.get(exits_key("paper", SYMBOL)) is None  # the position is closed: no exit state left


def test_the_exit_state_is_kept_between_cycles_and_survives_a_restart(make_app) -> None:
    app, cycle = runner_for(make_app, cfg())
    for i in range(WARM - 1, DROP):
        cycle(i)
    entry = entry_of(app)
    kept = app.state.get(exits_key("paper", SYMBOL)).value
    assert kept["tracker"]["entry_price"] == entry.price and kept["tracker"]["highest"] == 109.0
    assert kept["tracker"]["stop"] == pytest.approx(entry.price * 0.9) and kept["checked_ts"] == BARS[DROP - 1].ts
    again = build_app(cfg(), market=app.market, store=app.state, clock=app.clock)  # a new process, same store
    runner = CycleRunner(again, wiring="fused")
    again.clock.set(BARS[DROP].close_ts)
    runner.run_cycle(BARS[DROP].close_ts)
    assert [f.exit_reason for f in fills_of(again) if f.side is Side.SELL] == [ExitReason.STOP_LOSS]


def test_a_candle_no_cycle_saw_is_still_checked(make_app) -> None:
    app, cycle = runner_for(make_app, cfg())
    for i in range(WARM - 1, DROP):
        cycle(i)
    cycle(DROP + 1)  # the cycle at the drop's close did not run; the next one takes in both candles
    (sold,) = [f for f in fills_of(app) if f.side is Side.SELL]
    assert sold.exit_reason is ExitReason.STOP_LOSS and sold.ts == BARS[DROP + 1].close_ts
    assert sold.client_order_id == f"cs-{SYMBOL}-{BARS[DROP].close_ts}-sl"  # found on the candle it missed


def test_a_bot_halted_for_the_day_still_exits(make_app) -> None:
    app, cycle = runner_for(make_app, cfg(risk={"max_orders_per_day": 1}))
    for i in range(WARM - 1, DROP):
        cycle(i)
    entry_of(app)  # the day's one order
    placement = app.stages.placement
    day = RiskDay(day=BARS[DROP].ts // 86_400, start_equity=20_000.0, orders=1, halted="daily loss 9,990.00")
    app.state.put(placement.day_key, day.to_dict())
    cycle(DROP)
    assert [f.exit_reason for f in fills_of(app) if f.side is Side.SELL] == [ExitReason.STOP_LOSS]
    assert app.history.recent_rejections(10) == []
    assert app.state.get(placement.day_key).value["orders"] == 2  # the exit took a slot past the limit


def test_the_kill_switch_stops_the_exit_and_the_owners_flatten_still_exits(make_app) -> None:
    app, cycle = runner_for(make_app, cfg())
    for i in range(WARM - 1, DROP):
        cycle(i)
    set_kill_switch(app.state, True, reason="test")
    cycle(DROP)
    assert [f for f in fills_of(app) if f.side is Side.SELL] == []
    (refusal,) = [r for r in app.history.recent_rejections(10) if r.intent_id.endswith("-sl")]
    assert "kill switch" in refusal.reason

    def record(fills: list[Fill]) -> None:
        for f in fills:
            app.ledger.record_fill(f)
        app.ledger.project()

    (done,) = flatten(
        app.stages.placement, [SYMBOL], now=BARS[DROP].close_ts + 1, price_of=lambda s: 85.0, record=record
    )
    assert done.rejection is None and [f.exit_reason for f in done.fills] == [ExitReason.FLATTEN]
    cycle(DROP + 1)  # the next cycle finds the position gone and forgets its exit state
    assert app.state.get(exits_key("paper", SYMBOL)) is None
    assert app.ledger.verify().ok and app.broker.account().positions[SYMBOL] == 0.0


def test_a_position_without_exit_state_is_adopted_at_the_ledgers_cost(make_app) -> None:
    app, cycle = runner_for(make_app, cfg())
    for i in range(WARM - 1, DROP):
        cycle(i)
    entry = entry_of(app)
    app.state.delete(exits_key("paper", SYMBOL))  # bought before exits were configured, or the state was lost
    started = build_app(cfg(), market=app.market, store=app.state, clock=app.clock)  # the next process to run
    app.clock.set(BARS[DROP].close_ts)
    CycleRunner(started, wiring="fused").run_cycle(BARS[DROP].close_ts)
    (sold,) = [f for f in fills_of(started) if f.side is Side.SELL]
    assert sold.exit_reason is ExitReason.STOP_LOSS
    assert sold.price == pytest.approx(entry.price * 0.9 * (1 - SLIP))  # the ledger's average cost


def test_without_a_stop_loss_the_committee_sells_at_the_next_open(make_app) -> None:
    app, cycle = runner_for(make_app, cfg(exits={"stop_loss_pct": None}))
    for i in range(WARM - 1, len(BARS)):
        cycle(i)
    (sold,) = [f for f in fills_of(app) if f.side is Side.SELL]
    assert sold.exit_reason is ExitReason.SIGNAL and sold.ts == BARS[DROP + 1].ts


def test_coinswarm_run_replay_shows_the_stop_loss_in_the_cycle_line_status_and_ledger(
    tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_candles(tmp_path / "BTC_USD-1m.csv", BARS)
    (tmp_path / "c.toml").write_text(
        'symbols = ["BTC-USD"]\n[committee]\nweights = { sma_cross = 1.0 }\nquorum = 1\nthreshold = 1.0\n'
        "[committee.cache]\nenabled = false\n[agents.sma_cross]\nfast = 2\nslow = 4\n[market]\nwarmup_candles = 5\n"
    )
    state = str(tmp_path / "s.db")
    assert main(["run", "--config", "c.toml", "--replay", "BTC_USD-1m.csv", "--state", state]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if "(stop_loss)" in x]
    assert "exit stop_loss: order sell" in line and "filled sell" in line
    assert main(["status", "--config", "c.toml", "--state", state, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["exit_reasons"] == {"stop_loss": 1} and status["recent_exits"][0]["exit_reason"] == "stop_loss"
    assert main(["status", "--config", "c.toml", "--state", state]) == 0
    assert "exits        stop_loss 1" in capsys.readouterr().out
    assert main(["ledger", "verify", "--state", state]) == 0


def test_a_backtest_leaves_the_rules_to_its_broker_and_a_cycle_checks_them_itself(make_app) -> None:
    from coinswarm.backtest.engine import BacktestOptions, run_backtest

    app, _ = runner_for(make_app, cfg())
    assert app.stages.placement.exits is not None and app.stages.placement.exits.active
    result = run_backtest(BARS, cfg(), BacktestOptions(strategy="committee"))
    assert result.exit_reasons == {"stop_loss": 1}  # once: the backtest's broker, not a second time here


def test_an_exit_that_failed_to_go_out_is_found_again_by_the_next_cycle() -> None:
    from coinswarm.adapters.memory_store import MemoryStore
    from coinswarm.adapters.paper_broker import PaperBroker
    from coinswarm.domain.models import Order
    from coinswarm.errors import TransientStoreError
    from coinswarm.marketdata.replay import ReplayMarketData
    from coinswarm.ports.clock import SimulatedClock

    class FailsOnce(PaperBroker):
        failed = False

        def submit(self, order: Order) -> Order:
            if order.side is Side.SELL and not self.failed:
                self.failed = True
                raise TransientStoreError("the store went away for a moment")
            return super().submit(order)

    settings, store = cfg(), MemoryStore()
    broker = FailsOnce(store, account=settings.account, starting_cash=10_000.0, fee_bps=60.0, slippage_bps=5.0)
    clock = SimulatedClock(BARS[0].ts)
    app = build_app(
        settings, market=ReplayMarketData({SYMBOL: BARS}, label="t"), store=store, clock=clock, broker=broker
    )
    runner = CycleRunner(app, wiring="fused")
    for i in range(WARM - 1, DROP + 2):
        clock.set(BARS[i].close_ts)
        with pytest.raises(TransientStoreError) if i == DROP else contextlib.nullcontext():
            runner.run_cycle(BARS[i].close_ts)
    (sold,) = [f for f in fills_of(app) if f.side is Side.SELL]
    assert sold.exit_reason is ExitReason.STOP_LOSS and sold.client_order_id == f"cs-{SYMBOL}-{BARS[DROP].close_ts}-sl"
