"""cli.stopping.SigtermStop: SIGTERM between cycles stops at once, during a cycle after it (a second one
abandons it), and the previous handler comes back afterwards. The signals are raised in this process."""

from __future__ import annotations

import signal

import pytest

from coinswarm.cli.stopping import SigtermStop, Terminated


def test_between_cycles_sigterm_raises_at_once() -> None:
    with SigtermStop(), pytest.raises(Terminated):
        signal.raise_signal(signal.SIGTERM)


def test_during_a_cycle_the_cycle_finishes_then_the_run_stops() -> None:
    finished = False
    with SigtermStop() as stop:
        with stop.cycle():
            signal.raise_signal(signal.SIGTERM)
            finished = True  # not interrupted
        assert stop.requested and finished


def test_a_second_sigterm_during_the_cycle_abandons_it() -> None:
    with SigtermStop() as stop, pytest.raises(Terminated), stop.cycle():
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)


def test_the_previous_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with SigtermStop():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
