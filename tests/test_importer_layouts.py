"""Every download layout parses, with real values from tests/data asserted exactly."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from core.analysis.importer import ImportResult, run_import
from core.analysis.importer.layouts import detect_layout, symbol_from_filename
from core.analysis.importer.readers import float_rate, read_text
from core.domain.events import (
    Bar,
    Event,
    FundingRate,
    FundingSettled,
    ReplayHeader,
    decode,
)
from tests.importer_files import (
    API,
    BINS_1H,
    BINS_1M,
    BITMEX_FUNDING,
    DATA,
    FT_FUNDING,
    FT_MARK,
    HOUR_MS,
    KLINES,
    REST,
    REST_2019,
    SPECS,
    VISION,
)


def import_events(tmp_path: Path, *names: str, **kwargs: Any) -> tuple[ImportResult, list[Event]]:
    out = tmp_path / "out.jsonl"
    result = run_import([DATA / n for n in names], out, SPECS, **kwargs)
    lines = [decode(line) for line in out.read_bytes().splitlines()]
    assert isinstance(lines[0], ReplayHeader)
    events = [ev for ev in lines[1:] if not isinstance(ev, ReplayHeader)]
    return result, events


def settled(events: list[Event]) -> list[FundingSettled]:
    return [ev for ev in events if isinstance(ev, FundingSettled)]


def bars(events: list[Event]) -> list[Bar]:
    return [ev for ev in events if isinstance(ev, Bar)]


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        (API, "binance_funding_api"),
        (VISION, "binance_funding_vision"),
        (REST, "binance_funding_rest"),
        (REST_2019, "binance_funding_rest"),
        (FT_FUNDING, "freqtrade_funding"),
        (BITMEX_FUNDING, "bitmex_funding"),
        (KLINES, "binance_klines"),
        (FT_MARK, "freqtrade_mark_klines"),
        (BINS_1H, "bitmex_bins"),
        (BINS_1M, "bitmex_bins"),
    ],
)
def test_each_real_file_is_detected_as_its_layout(name: str, layout: str) -> None:
    assert detect_layout(read_text(DATA / name), name).name == layout


def test_binance_api_funding_keeps_exact_rates_and_removes_the_ms_jitter(tmp_path: Path) -> None:
    result, events = import_events(tmp_path, API)
    rows = settled(events)
    assert len(rows) == 93 and result.sources[0].rows == 93
    first = rows[0]
    assert (first.ts_ms, first.rate, first.raw_ts) == (
        1583020800000,
        Decimal("0.00049317"),
        "1583020800000",
    )
    assert (first.venue, first.symbol, first.interval_ms) == ("binance", "BTCUSDT", 8 * HOUR_MS)
    assert rows[1].rate == Decimal("0.00027933")
    jitter = rows[2]
    assert jitter.ts_ms == 1583078400000
    assert jitter.raw_ts == "1583078400001"
    assert jitter.rate == Decimal("0.00031033") and jitter.raw_rate == "0.00031033"
    assert jitter.mark_price is None
    assert {ev.ts_ms % (8 * HOUR_MS) for ev in rows} == {0}
    assert not any(isinstance(ev, FundingRate) for ev in events)


def test_binance_vision_funding_reads_calc_time_and_last_funding_rate(tmp_path: Path) -> None:
    _, events = import_events(tmp_path, VISION)
    rows = settled(events)
    assert len(rows) == 363
    assert (rows[0].ts_ms, rows[0].rate, rows[0].interval_ms) == (
        1577836800000,
        Decimal("-0.00012359"),
        8 * HOUR_MS,
    )
    march_8h = next(r for r in rows if r.ts_ms == 1583078400000)
    assert march_8h.rate == Decimal("0.00031032")  # the API file says 0.00031033


def test_binance_rest_funding_keeps_the_mark_price_and_infers_the_interval_from_gaps(
    tmp_path: Path,
) -> None:
    _, events = import_events(tmp_path, REST)
    rows = settled(events)
    assert [r.ts_ms for r in rows] == [1791302400000, 1791331200000, 1791360000000]
    assert [r.raw_ts for r in rows] == ["1791302400000", "1791331200002", "1791360000002"]
    assert [r.rate for r in rows] == [
        Decimal("0.00002245"),
        Decimal("-0.00000743"),
        Decimal("-0.00003657"),
    ]
    assert rows[0].mark_price == Decimal("85675.20000000")
    assert rows[1].mark_price == Decimal("85516.50151449")
    assert [r.interval_ms for r in rows] == [8 * HOUR_MS] * 3


def test_binance_rest_funding_with_an_empty_mark_price_has_no_mark(tmp_path: Path) -> None:
    _, events = import_events(tmp_path, REST_2019)
    rows = settled(events)
    assert [(r.ts_ms, r.rate, r.mark_price) for r in rows] == [
        (1568102400000, Decimal("0.00010000"), None),
        (1568131200000, Decimal("0.00010000"), None),
    ]


def test_freqtrade_funding_takes_its_symbol_from_the_file_name_and_interval_from_gaps(
    tmp_path: Path,
) -> None:
    result, events = import_events(tmp_path, FT_FUNDING)
    rows = settled(events)
    assert len(rows) == 91
    assert result.sources[0].symbol == "XRPUSDT"
    first = rows[0]
    assert (first.ts_ms, first.raw_ts, first.rate) == (
        1637193600000,
        "1637193600017",
        Decimal("0.0001"),
    )
    assert first.interval_ms == 8 * HOUR_MS  # the gap to the next settlement
    assert rows[6].ts_ms == 1637366400000 and rows[6].rate == Decimal("0.00013046")
    assert {r.interval_ms for r in rows} == {8 * HOUR_MS}


def test_a_4h_cadence_without_an_interval_column_is_a_4h_interval_not_missing_data(
    tmp_path: Path,
) -> None:
    text = (DATA / FT_FUNDING).read_text()
    # The same real rows, read as a 4 h symbol: every settlement 4 h after the previous one.
    rows = msgspec.json.decode(text)
    shifted = [[1637193600000 + i * 4 * HOUR_MS, *row[1:]] for i, row in enumerate(rows)]
    path = tmp_path / "XRP_USDT-4h-funding_rate.json"
    path.write_bytes(msgspec.json.encode(shifted))
    out = tmp_path / "out.jsonl"
    run_import([path], out, SPECS)
    evs = [decode(line) for line in out.read_bytes().splitlines()[1:]]
    assert {ev.interval_ms for ev in evs if isinstance(ev, FundingSettled)} == {4 * HOUR_MS}


def test_bitmex_funding_reads_the_crash_row_and_announces_each_rate_one_interval_ahead(
    tmp_path: Path,
) -> None:
    _, events = import_events(tmp_path, BITMEX_FUNDING)
    rows = settled(events)
    assert len(rows) == 363
    first = rows[0]
    assert (first.ts_ms, first.raw_ts, first.rate, first.raw_rate) == (
        1577851200000,
        "2020-01-01T04:00:00Z",
        Decimal("0.0001"),
        "1e-4",
    )
    crash = next(r for r in rows if r.raw_ts == "2020-03-12T20:00:00Z")
    assert (crash.ts_ms, crash.rate, crash.interval_ms) == (
        1584043200000,
        Decimal("-0.001691"),
        8 * HOUR_MS,
    )
    assert (crash.venue, crash.symbol) == ("bitmex", "XBTUSD")
    announced = [ev for ev in events if isinstance(ev, FundingRate) and ev.ts_ms == 1584043200000]
    assert announced == [
        FundingRate(
            ts_ms=1584043200000,
            venue="bitmex",
            symbol="XBTUSD",
            rate=Decimal("-0.00375"),
            settlement_ts_ms=1584072000000,
            interval_ms=8 * HOUR_MS,
            fixed=True,
        )
    ]
    at_cap = [r.raw_ts for r in rows if r.rate == Decimal("-0.00375")]
    assert at_cap[0] == "2020-03-13T04:00:00Z" and len(at_cap) == 6
    assert {r.ts_ms // HOUR_MS % 24 for r in rows} == {4, 12, 20}


def test_a_bitmex_float_rate_is_rounded_to_ten_significant_digits() -> None:
    assert float_rate("fundingRate", "6.900000000000001e-4") == Decimal("0.00069")
    assert float_rate("fundingRate", "-0.00375") == Decimal("-0.00375")


def test_a_bitmex_rate_with_float_noise_keeps_the_raw_string(tmp_path: Path) -> None:
    text = (DATA / BITMEX_FUNDING).read_text()
    line = "2020-01-16T20:00:00Z,XBTUSD,2000-01-01T08:00:00Z,3.22e-4,"
    assert line in text
    noisy = line.replace("3.22e-4", "3.2200000000000007e-4")
    path = tmp_path / BITMEX_FUNDING
    path.write_text(text.replace(line, noisy))
    out = tmp_path / "out.jsonl"
    run_import([path], out, SPECS)
    rows = [decode(x) for x in out.read_bytes().splitlines()[1:]]
    row = next(r for r in rows if isinstance(r, FundingSettled) and r.ts_ms == 1579204800000)
    assert row.rate == Decimal("0.000322") and row.raw_rate == "3.2200000000000007e-4"


def test_binance_klines_are_bars_known_at_their_close(tmp_path: Path) -> None:
    _, events = import_events(tmp_path, KLINES)
    got = bars(events)
    assert len(got) == 48
    assert got[0] == Bar(
        ts_ms=1583024399999,
        venue="binance",
        symbol="BTCUSDT",
        open_ts_ms=1583020800000,
        interval_ms=HOUR_MS,
        open=8532.5,
        high=8618.47,
        low=8526.0,
        close=8554.99,
        volume=7585.961,
    )
    crash = got[-1]
    assert crash.open_ts_ms == 1584054000000
    assert (crash.open, crash.high, crash.low, crash.close) == (5797.56, 5799.37, 4347.0, 4764.65)
    assert crash.volume == 129613.926


def test_freqtrade_mark_klines_have_no_volume(tmp_path: Path) -> None:
    result, events = import_events(tmp_path, FT_MARK)
    got = bars(events)
    assert len(got) == 100 and result.sources[0].symbol == "XRPUSDT"
    assert got[0] == Bar(
        ts_ms=1636959599999,
        venue="binance",
        symbol="XRPUSDT",
        open_ts_ms=1636956000000,
        interval_ms=HOUR_MS,
        open=1.20932,
        high=1.21787,
        low=1.20763,
        close=1.21431,
        volume=None,
    )
    assert got[-1].open_ts_ms == 1637312400000 and got[-1].close == 1.06051


def test_bitmex_hourly_bins_include_the_crash_hour(tmp_path: Path) -> None:
    _, events = import_events(tmp_path, BINS_1H)
    got = bars(events)
    assert len(got) == 48 and {b.symbol for b in got} == {"XBTUSD"}
    assert (got[0].open_ts_ms, got[0].open, got[0].close, got[0].volume) == (
        1583020800000,
        8531.5,
        8544.0,
        145612602.0,
    )
    crash = got[-1]
    assert (crash.ts_ms, crash.open, crash.high, crash.low, crash.close) == (
        1584057599999,
        5805.5,
        5810.0,
        4266.0,
        4346.0,
    )


def test_bitmex_minute_bins_whose_open_lies_outside_low_high_are_kept(tmp_path: Path) -> None:
    _, events = import_events(tmp_path, BINS_1M)
    got = bars(events)
    assert len(got) == 300 and {b.interval_ms for b in got} == {60_000}
    odd = next(b for b in got if b.open_ts_ms == 1584045900000)  # 2020-03-12T20:45Z
    assert (odd.open, odd.high, odd.low) == (5831.5, 5831.0, 5767.0)
    assert sum(1 for b in got if not b.low <= b.open <= b.high) == 6


def test_bitmex_minute_bins_of_the_crash_hour_add_up_to_its_hourly_bin(tmp_path: Path) -> None:
    _, minute_events = import_events(tmp_path, BINS_1M)
    hour = [b for b in bars(minute_events) if 1584054000000 <= b.open_ts_ms < 1584057600000]
    assert len(hour) == 60
    assert hour[0].open == 5805.5 and hour[-1].close == 4346.0
    assert max(b.high for b in hour) == 5810.0 and min(b.low for b in hour) == 4266.0
    assert sum(b.volume or 0.0 for b in hour) == 870106610.0


def test_an_explicit_layout_and_symbol_override_detection_and_the_file_name(
    tmp_path: Path,
) -> None:
    one_bar = tmp_path / "xbt_bins.csv"
    lines = (DATA / BINS_1M).read_text().splitlines()
    one_bar.write_text("\n".join(lines[:2]) + "\n")
    out = tmp_path / "out.jsonl"
    result = run_import(
        [one_bar], out, SPECS, symbols={"bitmex": "XBTUSD"}, layouts={one_bar: "bitmex_bins:1m"}
    )
    (bar,) = [decode(x) for x in out.read_bytes().splitlines()[1:]]
    assert isinstance(bar, Bar)
    assert (bar.symbol, bar.interval_ms, bar.ts_ms) == ("XBTUSD", 60_000, 1583020859999)
    assert result.sources[0].layout == "bitmex_bins"


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("binance_um_BTCUSDT_1h_2020-03-01_2020-03-24.csv", "BTCUSDT"),
        ("bitmex_XBTUSD_1m_2020-03-01_2020-03-24.csv", "XBTUSD"),
        ("XRP_USDT-8h-funding_rate.json", "XRPUSDT"),
        ("funding.csv", None),
    ],
)
def test_a_symbol_is_read_from_the_file_name_when_nothing_else_names_it(
    name: str, symbol: str | None
) -> None:
    assert symbol_from_filename(Path(name)) == symbol
