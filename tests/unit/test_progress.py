"""The backtest progress bar: drawn on a terminal, silent otherwise, ends at 100 %."""

import io

from coinswarm.backtest.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_draws_on_a_terminal_and_finishes_at_100_percent() -> None:
    out = Tty()
    p = Progress(10_000, label="BTC-USD", out=out)
    for done in range(0, 10_001, 500):
        p.update(done)
    p.close()
    text = out.getvalue()
    assert "BTC-USD [" in text and "bars/s" in text and "eta" in text
    assert text.rstrip("\n").split("\r")[-1].count("#") == 30
    assert "100.0% 10,000/10,000 bars" in text and text.endswith("\n")


def test_silent_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(100, out=out)
    p.update(50)
    p.close()
    assert out.getvalue() == ""
