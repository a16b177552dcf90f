"""Candle files: loading (and refusing), writing, stitching; and the real reference files."""

from __future__ import annotations

import gzip
import pickle
import re
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from coinswarm.domain.gaps import find_gaps
from coinswarm.domain.models import CANDLE_FIELDS, Candle
from coinswarm.marketdata import candle_files
from coinswarm.marketdata.candle_files import (
    CandleFileError,
    load_candles,
    parse_timeframe,
    stitch,
    symbol_and_timeframe_from_name,
    write_candles,
)

OHLCV = Path(__file__).resolve().parents[3] / "shared" / "data" / "ohlcv"
HEADER = "date,open,high,low,close,volume"
T0 = 1_515_560_100  # 2018-01-10T04:55:00Z

GOOD = [
    "2018-01-10T04:55:00Z,0.0984,0.0994766,0.09828605,0.0994766,1820.54447418",
    "2018-01-10T05:00:00Z,0.09946999,0.0997238,0.099,0.09969,2527.92100293",
    "2018-01-10T05:05:00Z,0.09969,0.1,0.0996,0.0998,0.0",
]


def put(directory: Path, name: str, lines: list[str], *, gz: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path = directory / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def refused(path: Path, line: int, *phrases: str) -> CandleFileError:
    with pytest.raises(CandleFileError) as info:
        load_candles(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line {line}: "), message
    assert info.value.line == line and info.value.path == str(path)
    for phrase in phrases:
        assert phrase in message, (phrase, message)
    return info.value


# ------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("gz", [False, True])
def test_loads_plain_and_gzipped(tmp_path: Path, gz: bool) -> None:
    path = put(tmp_path, "ETH_BTC-5m.csv.gz" if gz else "ETH_BTC-5m.csv", [HEADER, *GOOD], gz=gz)
    cf = load_candles(path)
    assert (cf.path, cf.symbol, cf.timeframe_s, cf.gaps) == (path, "ETH-BTC", 300, [])
    assert [c.ts for c in cf.candles] == [T0, T0 + 300, T0 + 600]
    first = cf.candles[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        0.0984,
        0.0994766,
        0.09828605,
        0.0994766,
        1820.54447418,
    )
    assert all(c.symbol == "ETH-BTC" and c.timeframe_s == 300 for c in cf.candles)
    assert cf.candles[-1].volume == 0.0


def test_gzip_is_detected_by_its_magic_bytes_not_the_name(tmp_path: Path) -> None:
    zipped = put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *GOOD], gz=True)
    plain_named_gz = put(tmp_path, "LTC_BTC-5m.csv.gz", [HEADER, *GOOD])
    assert len(load_candles(zipped).candles) == 3
    assert len(load_candles(plain_named_gz).candles) == 3


def test_a_broken_gzip_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ETH_BTC-5m.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([HEADER, *GOOD]) + "\n").encode())[:40])
    refused(path, 1, "does not decompress", "download it again")


@pytest.mark.parametrize(
    "stamp",
    [
        "2018-01-10T04:55:00Z",
        "2018-01-10T04:55:00+00:00",
        "2018-01-10 04:55:00Z",
        "1515560100",
        "2018-01-10T04:55:00.000Z",
    ],
)
def test_date_forms(tmp_path: Path, stamp: str) -> None:
    path = put(tmp_path, "ETH_BTC-5m.csv", [HEADER, f"{stamp},1,2,0.5,1.5,10"])
    assert load_candles(path).candles[0].ts == T0


def test_other_utc_offsets_are_converted(tmp_path: Path) -> None:
    path = put(tmp_path, "ETH_BTC-5m.csv", [HEADER, "2018-01-10T06:55:00+02:00,1,2,0.5,1.5,10"])
    assert load_candles(path).candles[0].ts == T0


def test_mixed_date_forms_in_one_file(tmp_path: Path) -> None:
    rows = ["2018-01-10T04:55:00Z,1,2,0.5,1.5,10", "1515560400,1,2,0.5,1.5,10", "2018-01-10T05:05:00+00:00,1,2,0.5,1,1"]
    assert [c.ts for c in load_candles(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *rows])).candles] == [
        T0,
        T0 + 300,
        T0 + 600,
    ]


def test_crlf_blank_lines_spaces_and_a_byte_order_mark(tmp_path: Path) -> None:
    text = "\ufeff" + HEADER.upper() + "\r\n" + GOOD[0] + "\r\n\r\n" + GOOD[1].replace(",", ", ") + "\r\n\r\n"
    path = tmp_path / "ETH_BTC-5m.csv"
    path.write_text(text, encoding="utf-8")
    assert [c.ts for c in load_candles(path).candles] == [T0, T0 + 300]


def test_columns_in_another_order(tmp_path: Path) -> None:
    path = put(tmp_path, "ETH_BTC-5m.csv", ["volume,close,low,high,open,date", "10,1.5,0.5,2,1,2018-01-10T04:55:00Z"])
    c = load_candles(path).candles[0]
    assert (c.ts, c.open, c.high, c.low, c.close, c.volume) == (T0, 1.0, 2.0, 0.5, 1.5, 10.0)


def test_gaps_are_reported(tmp_path: Path) -> None:
    rows = [
        "2018-01-10T04:55:00Z,1,2,0.5,1.5,10",
        "2018-01-10T05:10:00Z,1,2,0.5,1.5,10",  # 05:00 and 05:05 missing
        "2018-01-10T05:15:00Z,1,2,0.5,1.5,10",
        "2018-01-10T05:25:00Z,1,2,0.5,1.5,10",  # 05:20 missing
    ]
    cf = load_candles(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *rows]))
    assert [(g.after_ts, g.before_ts, g.missing) for g in cf.gaps] == [(T0, T0 + 900, 2), (T0 + 1200, T0 + 1800, 1)]
    assert cf.gaps == find_gaps(cf.candles)
    assert cf.missing == 3


def test_the_timeframe_is_inferred_when_the_name_has_none(tmp_path: Path) -> None:
    rows = [f"{T0 + k * 60},1,2,0.5,1.5,10" for k in (0, 1, 2, 5, 6, 7, 8)]
    cf = load_candles(put(tmp_path, "prices.csv", [HEADER, *rows]))
    assert (cf.symbol, cf.timeframe_s, cf.missing) == ("prices", 60, 2)


def test_arguments_override_the_name(tmp_path: Path) -> None:
    rows = [f"{T0 + k * 60},1,2,0.5,1.5,10" for k in range(5)]
    cf = load_candles(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *rows]), symbol="BTC-USD", timeframe_s=60)
    assert (cf.symbol, cf.timeframe_s) == ("BTC-USD", 60)
    assert all(c.symbol == "BTC-USD" and c.timeframe_s == 60 for c in cf.candles)


def test_a_single_row_needs_a_timeframe(tmp_path: Path) -> None:
    refused(put(tmp_path, "prices.csv", [HEADER, GOOD[0]]), 2, "single candle", "timeframe_s")
    assert load_candles(put(tmp_path, "prices.csv", [HEADER, GOOD[0]]), timeframe_s=300).timeframe_s == 300


def test_a_missing_file_is_a_file_not_found_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_candles(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ETH_BTC-5m.csv.gz", ("ETH-BTC", 300)),
        ("UNITTEST_BTC-1m.csv.gz", ("UNITTEST-BTC", 60)),
        ("BTC_USDT-1d.csv.gz", ("BTC-USDT", 86400)),
        ("BTC-USD-1h.csv", ("BTC-USD", 3600)),
        ("eth_btc-15m.csv", ("ETH-BTC", 900)),
        ("XRP_ETH.csv", ("XRP-ETH", None)),
        ("prices.csv.gz", ("prices", None)),
        ("my candles-5m.csv", ("my candles-5m", 300)),
    ],
)
def test_symbol_and_timeframe_from_the_name(name: str, expected: tuple[str, int | None]) -> None:
    assert symbol_and_timeframe_from_name(name) == expected


def test_parse_timeframe() -> None:
    assert [parse_timeframe(t) for t in ("1m", "5m", "1h", "1d", "30s")] == [60, 300, 3600, 86400, 30]
    with pytest.raises(ValueError, match="not a timeframe"):
        parse_timeframe("5x")


# ------------------------------------------------------------------------------------------- refusals


def test_refuses_an_empty_file(tmp_path: Path) -> None:
    refused(put(tmp_path, "ETH_BTC-5m.csv", []), 1, "empty")
    (tmp_path / "zero.csv").write_bytes(b"")
    refused(tmp_path / "zero.csv", 1, "empty")


def test_refuses_a_header_only_file(tmp_path: Path) -> None:
    refused(put(tmp_path, "ETH_BTC-5m.csv", [HEADER]), 1, "header but no candles")
    refused(put(tmp_path, "ETH_BTC-5m.csv.gz", [HEADER, "", ""], gz=True), 1, "header but no candles")


def test_refuses_missing_header_columns_and_names_them(tmp_path: Path) -> None:
    err = refused(put(tmp_path, "a.csv", ["date,open,close", GOOD[0]]), 1, "missing columns 'high', 'low', 'volume'")
    assert HEADER in str(err)


def test_refuses_extra_header_columns(tmp_path: Path) -> None:
    refused(put(tmp_path, "a.csv", [HEADER + ",vwap", GOOD[0] + ",1"]), 1, "unexpected column 'vwap'")


def test_refuses_a_headerless_file(tmp_path: Path) -> None:
    refused(put(tmp_path, "a.csv", GOOD), 1, "the first line is not a header", HEADER)


def test_refuses_a_row_with_the_wrong_number_of_fields(tmp_path: Path) -> None:
    refused(put(tmp_path, "a.csv", [HEADER, GOOD[0], GOOD[1] + ",7"]), 3, "7 fields, expected 6")
    refused(put(tmp_path, "b.csv", [HEADER, GOOD[0], "2018-01-10T05:00:00Z,1,2"]), 3, "3 fields, expected 6")


@pytest.mark.parametrize(
    ("row", "phrases"),
    [
        ("2018-01-10T05:00:00Z,abc,2,0.5,1.5,10", ["open 'abc' is not a number"]),
        ("2018-01-10T05:00:00Z,1,2,0.5,,10", ["close '' is not a number"]),
        ("2018-01-10T05:00:00Z,nan,2,0.5,1.5,10", ["open is nan", "finite"]),
        ("2018-01-10T05:00:00Z,1,inf,0.5,1.5,10", ["high is inf", "finite"]),
        ("2018-01-10T05:00:00Z,1,2,0.5,1.5,-Infinity", ["volume is -Infinity", "finite"]),
        ("2018-01-10T05:00:00Z,1,2,0,1.5,10", ["low is 0.0", "positive"]),
        ("2018-01-10T05:00:00Z,-1,2,-3,1.5,10", ["open is -1.0", "positive"]),
        ("2018-01-10T05:00:00Z,1,2,0.5,1.5,-0.1", ["volume is -0.1", "negative"]),
        ("2018-01-10T05:00:00Z,1,0.5,2,1,10", ["high 0.5 is below low 2.0"]),
        ("2018-01-10T05:00:00Z,3,2,0.5,1.5,10", ["open 3.0 lies outside [low 0.5, high 2.0]"]),
        ("2018-01-10T05:00:00Z,1,2,0.5,0.4,10", ["close 0.4 lies outside [low 0.5, high 2.0]"]),
        ("2018-13-10T05:00:00Z,1,2,0.5,1.5,10", ["not a valid calendar date"]),
        ("2018-01-10T25:00:00Z,1,2,0.5,1.5,10", ["not a valid clock time"]),
        ("yesterday,1,2,0.5,1.5,10", ["'yesterday' is not a time", "ISO-8601"]),
        ("2018-01-10T05:00:00,1,2,0.5,1.5,10", ["no time zone"]),
        ("2018-01-10T05:00:00.5Z,1,2,0.5,1.5,10", ["not on a whole second"]),
        ("1515560400000,1,2,0.5,1.5,10", ["milliseconds"]),
    ],
)
def test_refuses_a_bad_row_naming_its_line(tmp_path: Path, row: str, phrases: list[str]) -> None:
    refused(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, GOOD[0], row, GOOD[2]]), 3, *phrases)


def test_refuses_duplicate_rows_naming_both_lines(tmp_path: Path) -> None:
    err = refused(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, GOOD[0], GOOD[1], GOOD[1]]), 4, "duplicate", "line 3")
    assert "unsorted" not in str(err)


def test_refuses_unsorted_rows_naming_both_lines(tmp_path: Path) -> None:
    err = refused(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, GOOD[1], GOOD[0]]), 3, "unsorted", "line 2", "sort")
    assert "duplicate" not in str(err)


def test_refuses_rows_off_the_timeframe_grid(tmp_path: Path) -> None:
    rows = [GOOD[0], "2018-01-10T04:56:30Z,1,2,0.5,1.5,10"]
    refused(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *rows]), 3, "not aligned", "90 s after line 2", "300 s bars")


def test_refuses_rows_off_an_inferred_grid(tmp_path: Path) -> None:
    rows = [f"{T0 + s},1,2,0.5,1.5,10" for s in (0, 60, 120, 180, 270)]
    refused(put(tmp_path, "prices.csv", [HEADER, "", *rows]), 7, "not aligned", "90 s after line 6")


def test_the_line_number_counts_blank_lines(tmp_path: Path) -> None:
    refused(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, "", GOOD[0], "", "", "x,1,2,0.5,1.5,10"]), 6, "not a time")


def test_refuses_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "ETH_BTC-5m.csv"
    path.write_bytes((HEADER + "\n" + GOOD[0] + "\n").encode() + b"\xff\xfe,1,2\n")
    refused(path, 3, "not UTF-8")


# ------------------------------------------------------------------------------------------- candles


def test_loaded_candles_equal_validated_ones(tmp_path: Path) -> None:
    loaded = load_candles(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *GOOD])).candles
    for c in loaded:
        validated = Candle.model_validate(c.model_dump())
        constructed = Candle.model_construct(**c.model_dump())
        assert c == validated == constructed
        assert [getattr(c, f) for f in CANDLE_FIELDS] == [getattr(constructed, f) for f in CANDLE_FIELDS]
        assert repr(c) == repr(validated) and hash(c) == hash(validated)
        assert c.close_ts == c.ts + 300


def test_the_fast_builder_matches_the_checked_constructor() -> None:
    row = {"symbol": "A-B", "ts": 60, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0}
    row["timeframe_s"] = 120
    fast = candle_files._build([tuple(row.values())])[0]  # type: ignore[list-item]
    slow = Candle(**row)
    assert tuple(row) == CANDLE_FIELDS  # the loader's rows are in this order
    for field in CANDLE_FIELDS:
        assert type(getattr(fast, field)) is type(getattr(slow, field)) and getattr(fast, field) == row[field], field
    assert fast == slow and hash(fast) == hash(slow)


def test_loaded_candles_stay_frozen_and_copy_independently(tmp_path: Path) -> None:
    a, b, _ = load_candles(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *GOOD])).candles
    with pytest.raises(FrozenInstanceError):
        a.close = 2.0  # type: ignore[misc]
    moved = a.model_copy(update={"ts": 0})
    assert moved.ts == 0 and a.ts == T0
    assert b.model_dump() == {field: getattr(b, field) for field in CANDLE_FIELDS}


def test_a_candle_converts_what_the_model_converted_and_survives_a_process_boundary() -> None:
    whole = Candle(symbol="A-B", ts=60, open=2, high=3, low=1, close="2.5", volume=0, timeframe_s=300)  # type: ignore[arg-type]
    assert whole == Candle(symbol="A-B", ts=60, open=2.0, high=3.0, low=1.0, close=2.5, volume=0.0, timeframe_s=300)
    assert all(type(getattr(whole, f)) is float for f in ("open", "high", "low", "close", "volume"))
    assert pickle.loads(pickle.dumps(whole)) == whole  # search trials run in other processes
    with pytest.raises(ValueError, match="open and close must lie within"):
        Candle(symbol="A-B", ts=60, open=5.0, high=3.0, low=1.0, close=2.0, volume=1.0)
    with pytest.raises(ValueError, match="ts"):
        Candle(symbol="A-B", ts=60.5, open=2.0, high=3.0, low=1.0, close=2.0, volume=1.0)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- writing


@pytest.mark.parametrize("name", ["out-5m.csv", "out-5m.csv.gz"])
def test_write_then_load_gives_back_equal_candles(tmp_path: Path, name: str) -> None:
    original = load_candles(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *GOOD])).candles
    awkward = original[0].model_copy(update={"ts": T0 - 300, "open": 0.1 + 0.2, "high": 1 / 3, "low": 1e-9})
    candles = [awkward, *original]
    path = write_candles(tmp_path / name, candles)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    again = load_candles(path, symbol="ETH-BTC")
    assert again.candles == candles
    assert not list(tmp_path.glob(".*tmp*"))


def test_gzipped_output_is_reproducible(tmp_path: Path) -> None:
    candles = load_candles(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *GOOD])).candles
    first = write_candles(tmp_path / "a.csv.gz", candles).read_bytes()
    assert write_candles(tmp_path / "a.csv.gz", candles).read_bytes() == first


def test_write_refuses_nothing_and_disorder(tmp_path: Path) -> None:
    candles = load_candles(put(tmp_path, "ETH_BTC-5m.csv", [HEADER, *GOOD])).candles
    with pytest.raises(ValueError, match="no candles"):
        write_candles(tmp_path / "x.csv", [])
    with pytest.raises(ValueError, match="increasing time"):
        write_candles(tmp_path / "x.csv", [candles[1], candles[0]])
    assert not (tmp_path / "x.csv").exists()


# ------------------------------------------------------------------------------------------- stitching


def series(start: int, prices: list[float], tf: int = 300, skip: tuple[int, ...] = ()) -> list[Candle]:
    out = []
    for k, p in enumerate(prices):
        if k in skip:
            continue
        out.append(
            Candle(symbol="X", ts=start + k * tf, open=p, high=p * 1.01, low=p * 0.99, close=p * 1.005, volume=k + 1.0)
        )
        out[-1] = out[-1].model_copy(update={"timeframe_s": tf})
    return out


def test_stitch_joins_end_to_end_on_a_continuous_grid() -> None:
    a = series(T0, [10.0, 11.0, 12.0])
    b = series(T0 + 86_400, [50.0, 40.0, 45.0, 47.0], skip=(2,))  # its own gap stays
    c = series(T0 - 999_900, [1.0, 2.0])
    joined = stitch([a, [], b, c], "STITCHED", 300)
    assert len(joined) == 3 + 3 + 2
    assert [x.ts for x in joined] == [T0 + 300 * k for k in (0, 1, 2, 3, 4, 6, 7, 8)]
    assert all(x.symbol == "STITCHED" and x.timeframe_s == 300 for x in joined)
    assert joined[:3] == [x.model_copy(update={"symbol": "STITCHED"}) for x in a]
    for k in (3, 6):  # each following series opens exactly where the previous one closed
        assert joined[k].open == joined[k - 1].close
    factor = a[-1].close / b[0].open
    assert joined[4].close == pytest.approx(b[1].close * factor, rel=1e-12)
    assert [x.volume for x in joined[3:6]] == [x.volume for x in b]
    for x in joined:
        assert Candle.model_validate(x.model_dump()) == x
    assert [(g.after_ts, g.missing) for g in find_gaps(joined)] == [(T0 + 1200, 1)]


def test_stitch_keeps_ohlc_order_when_rounding_moves_the_open() -> None:
    a = series(T0, [3.0])
    b = [
        Candle(symbol="X", ts=T0, open=1 / 3, high=1 / 3, low=0.1, close=0.2, volume=1.0, timeframe_s=300),
        Candle(symbol="X", ts=T0 + 300, open=0.2, high=0.3, low=0.2, close=0.3, volume=1.0, timeframe_s=300),
    ]
    joined = stitch([a, b], "X", 300)
    for x in joined:
        assert Candle.model_validate(x.model_dump()) == x
    assert joined[1].open == joined[0].close


def test_stitch_refuses_mixed_timeframes_and_disorder() -> None:
    with pytest.raises(ValueError, match="300 s candles"):
        stitch([series(T0, [1.0, 2.0], tf=60)], "X", 300)
    with pytest.raises(ValueError, match="time order"):
        stitch([list(reversed(series(T0, [1.0, 2.0])))], "X", 300)
    assert stitch([[], []], "X", 300) == []


# ------------------------------------------------------------------------------------------- the real files

NAMED = re.compile(r"^(?P<base>[A-Z]+)_(?P<quote>[A-Z]+)-(?P<tf>\d+[mhd])\.csv\.gz$")
REAL = sorted(OHLCV.glob("*.csv*")) if OHLCV.is_dir() else []
needs_data = pytest.mark.skipif(not REAL, reason=f"reference candle files not found in {OHLCV}")


@needs_data
@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_every_reference_file_loads(path: Path) -> None:
    cf = load_candles(path)
    m = NAMED.match(path.name)
    assert m is not None, f"unexpected file name {path.name}"
    assert cf.symbol == f"{m['base']}-{m['quote']}"
    assert cf.timeframe_s == parse_timeframe(m["tf"])
    assert len(cf.candles) > 100
    assert cf.gaps == find_gaps(cf.candles)
    stamps = [c.ts for c in cf.candles]
    assert stamps == sorted(set(stamps))


@needs_data
def test_the_one_minute_reference_file_reports_its_real_gaps() -> None:
    path = OHLCV / "UNITTEST_BTC-1m.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    cf = load_candles(path)
    span = (cf.candles[-1].ts - cf.candles[0].ts) // 60 + 1
    assert cf.missing == span - len(cf.candles) == sum(g.missing for g in find_gaps(cf.candles))
    assert cf.missing == 717  # what the data folder's README says
    assert len(cf.candles) == 13_681 and len(cf.gaps) == 538
    assert cf.gaps[0].describe().startswith("UNITTEST-BTC: ")


@needs_data
def test_the_five_minute_reference_files_stitch_into_one_long_series() -> None:
    five = [load_candles(p).candles for p in REAL if p.name.endswith("-5m.csv.gz")]
    if not five:
        pytest.skip(f"no 5-minute files in {OHLCV}")
    joined = stitch(five * 3, "STITCHED-BTC", 300)
    assert len(joined) == 3 * sum(map(len, five))
    boundaries = []
    at = 0
    for s in five * 3:
        at += len(s)
        boundaries.append(at)
    for k in boundaries[:-1]:
        assert joined[k].open == joined[k - 1].close
        assert joined[k].ts == joined[k - 1].ts + 300
    assert all(x.low <= min(x.open, x.close) and x.high >= max(x.open, x.close) and x.low > 0 for x in joined)
