"""Candle files built to hurt (issue 10, items 9 and 10): a small .gz that decompresses into one enormous
line is refused after reading a bounded amount, with a short message; and a non-finite or absurd price
is refused naming its line, however it is written."""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from coinswarm.marketdata.candle_files import MAX_LINE_CHARS, CandleFileError, load_candles

HEADER = "date,open,high,low,close,volume"
ROW = "2018-01-10T04:55:00Z,0.0984,0.0994766,0.09828605,0.0994766,1820.54447418"
MAX_MESSAGE = 500  # characters: a message names the file, the line and what to do, and quotes little


def gzip_bomb(path: Path, *, line_mib: int) -> Path:
    """A .gz of about `line_mib` KiB whose second line is `line_mib` MiB of digits: one gzip member of
    a MiB, repeated (a reader decompresses the members one after the other, as one stream)."""
    member = gzip.compress(b"9" * (1 << 20), compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(f"{HEADER}\n2018-01-10T04:55:00Z,".encode()))
        for _ in range(line_mib):
            out.write(member)
        out.write(gzip.compress(b",1,1,1,1\n"))
    return path


def test_a_small_gz_holding_a_gigabyte_line_is_refused_within_a_small_memory_limit(tmp_path: Path) -> None:
    bomb = gzip_bomb(tmp_path / "BTC_USD-1m.csv.gz", line_mib=1024)
    assert bomb.stat().st_size < 2_000_000
    # A child process allowed 512 MiB of address space in all: reading the whole line (1 GiB) cannot fit.
    script = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
        from coinswarm.marketdata.candle_files import CandleFileError, load_candles
        try:
            load_candles({str(bomb)!r})
        except CandleFileError as exc:
            print(exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    message = done.stdout.strip()
    assert message.startswith(f"{bomb}, line 2: the line is longer than {MAX_LINE_CHARS} characters"), message[:300]
    assert len(message) < MAX_MESSAGE and done.stderr == ""


def test_a_long_cell_is_quoted_as_a_short_excerpt(tmp_path: Path) -> None:
    long_cell = "9" * (MAX_LINE_CHARS - 100)  # within the line limit: float() reads it as infinity
    f = tmp_path / "ETH_BTC-5m.csv"
    f.write_text(f"{HEADER}\n2018-01-10T04:55:00Z,1,{long_cell},1,1,1\n")
    with pytest.raises(CandleFileError, match=r"line 2: high is 9+; prices and volumes must be finite") as caught:
        load_candles(f)
    assert len(str(caught.value)) < MAX_MESSAGE
    header = tmp_path / "BTC_USD-1m.csv"
    header.write_text("date,open,high,low,close," + "v" * (MAX_LINE_CHARS - 50) + "\n" + ROW + "\n")
    with pytest.raises(CandleFileError, match="line 1: the header") as caught:
        load_candles(header)
    assert len(str(caught.value)) < MAX_MESSAGE


@pytest.mark.parametrize("gz", [False, True])
def test_a_line_just_within_the_limit_still_loads_and_one_past_it_is_refused(tmp_path: Path, gz: bool) -> None:
    padded = ROW.replace("1820.54447418", "1820.5" + "0" * (MAX_LINE_CHARS - len(ROW) + 7))
    assert len(padded) == MAX_LINE_CHARS
    data = f"{HEADER}\n{padded}\n{ROW.replace('04:55', '05:00')}\n".encode()
    f = tmp_path / ("ETH_BTC-5m.csv.gz" if gz else "ETH_BTC-5m.csv")
    f.write_bytes(gzip.compress(data) if gz else data)
    assert [c.volume for c in load_candles(f).candles] == [1820.5, 1820.54447418]
    f.write_bytes(data.replace(padded.encode(), padded.encode() + b"0"))
    with pytest.raises(CandleFileError, match="line 2: the line is longer"):
        load_candles(f)


@pytest.mark.parametrize(
    ("high", "says"),
    [
        ("1e999", "high is 1e999; prices and volumes must be finite"),
        ("inf", "high is inf; prices and volumes must be finite"),
        ("-Infinity", "high is -Infinity; prices and volumes must be finite"),
        ("NaN", "high is NaN; prices and volumes must be finite"),
        ("1e300", "high is 1e+300, beyond any market"),
        ("0", "high is 0.0; prices must be positive"),
        ("-5", "high is -5.0; prices must be positive"),
    ],
)
def test_a_price_that_is_not_finite_or_not_positive_is_refused_naming_the_line(
    tmp_path: Path, high: str, says: str
) -> None:
    f = tmp_path / "ETH_BTC-5m.csv"
    f.write_text(f"{HEADER}\n{ROW}\n2018-01-10T05:00:00Z,0.09,{high},0.09,0.09,1\n")
    with pytest.raises(CandleFileError, match="line 3: ") as caught:
        load_candles(f)
    assert says in str(caught.value)
