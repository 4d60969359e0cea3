"""Bad input: every error names file, line and field; skip_bad counts; duplicates merge or
conflict. Each test copies a real file from tests/data into tmp_path and breaks it there."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from core.analysis.importer import ImportDataError, run_import
from core.domain.events import FundingRate, FundingSettled, decode
from tests.importer_files import (
    API,
    BINS_1H,
    BINS_1M,
    BITMEX_FUNDING,
    DATA,
    FT_FUNDING,
    KLINES,
    REST,
    SPECS,
    VISION,
)


def broken_copy(tmp_path: Path, name: str, line_no: int, old: str, new: str) -> Path:
    """A copy of tests/data/NAME whose line LINE_NO (1-based) has OLD replaced by NEW."""
    lines = (DATA / name).read_text().splitlines(keepends=True)
    assert old in lines[line_no - 1], lines[line_no - 1]
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


def import_error(tmp_path: Path, *paths: Path) -> str:
    with pytest.raises(ImportDataError) as info:
        run_import(list(paths), tmp_path / "out.jsonl", SPECS)
    return str(info.value)


def read_events(path: Path) -> list[object]:
    return [decode(line) for line in path.read_bytes().splitlines()[1:]]


def test_a_rate_that_is_not_a_number_names_file_line_and_field(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, API, 17, "0.00020373", "abc")
    assert import_error(tmp_path, path) == (f"{API}:17: field funding_rate: 'abc' is not a number")


def test_a_settlement_more_than_a_minute_off_the_hour_is_an_error_naming_the_line(
    tmp_path: Path,
) -> None:
    path = broken_copy(tmp_path, API, 4, "1583078400001", "1583078461001")
    msg = import_error(tmp_path, path)
    assert msg.startswith(f"{API}:4: field funding_time: 2020-03-01T16:01:01.001Z is 61.001 s")


def test_a_timestamp_in_2100_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, API, 5, "1583107200000", "4133404800000")
    msg = import_error(tmp_path, path)
    assert msg.startswith(f"{API}:5: field funding_time: 4133404800000 ms (2100-12-25")
    assert "outside the sane range" in msg


def test_a_row_in_seconds_inside_a_millisecond_column_is_an_error(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, API, 6, "1583136000000", "1583136000")
    msg = import_error(tmp_path, path)
    assert msg == (
        f"{API}:6: field funding_time: '1583136000' has 10 digits but this column holds ms "
        "(13 digits)"
    )


def test_a_column_of_microseconds_reads_as_milliseconds(tmp_path: Path) -> None:
    text = (DATA / API).read_text().splitlines()
    us = [text[0]] + [f"{t}000,{rest}" for t, rest in (ln.split(",", 1) for ln in text[1:])]
    path = tmp_path / API
    path.write_text("\n".join(us) + "\n")
    out = tmp_path / "out.jsonl"
    run_import([path], out, SPECS)
    rows = [ev for ev in read_events(out) if isinstance(ev, FundingSettled)]
    assert rows[2].ts_ms == 1583078400000 and rows[2].raw_ts == "1583078400001000"


def test_a_row_with_a_missing_field_names_its_line(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, API, 9, ",8,", ",")
    assert import_error(tmp_path, path) == f"{API}:9: 2 fields where the header has 3"


def test_a_bitmex_row_with_a_bad_interval_names_the_field(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, BITMEX_FUNDING, 3, "2000-01-01T08:00:00Z", "8h")
    msg = import_error(tmp_path, path)
    assert msg == f"{BITMEX_FUNDING}:3: field fundingInterval: '8h' is not an ISO 8601 date-time"


def test_a_bin_whose_high_is_below_its_low_is_rejected(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, BINS_1H, 3, ",8656.0,8512.5,", ",8500.0,8512.5,")
    assert (
        import_error(tmp_path, path) == f"{BINS_1H}:3: field high: high 8500.0 is below low 8512.5"
    )


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        (",8544.0,8656.0,", ",0,8656.0,", "open", "0.0 is not a positive price"),
        (",8649.0,150723095", ",nan,150723095", "close", "'nan' is not a number"),
        (",8649.0,150723095", ",8649.0,-5", "volume_contracts_usd", "'-5' is a negative volume"),
        (
            ",2020-03-01T01:00:00Z,",
            ",2020-03-01T02:00:00Z,",
            "open_time_iso",
            "'2020-03-01T02:00:00Z' disagrees with open_time (2020-03-01T01:00:00.000Z)",
        ),
    ],
)
def test_a_bin_with_a_bad_price_volume_or_time_is_rejected(
    tmp_path: Path, old: str, new: str, field: str, reason: str
) -> None:
    path = broken_copy(tmp_path, BINS_1H, 3, old, new)
    assert import_error(tmp_path, path) == f"{BINS_1H}:3: field {field}: {reason}"


def test_a_duplicated_bar_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, KLINES, 4, "1583028000000", "1583024400000")
    msg = import_error(tmp_path, path)
    assert msg == (
        f"{KLINES}:4: field open_time: open time 2020-03-01T01:00:00.000Z repeats the bar at "
        "line 3 (2020-03-01T01:00:00.000Z): bars must be in time order without duplicates"
    )


def test_bars_out_of_order_are_an_error_with_the_line(tmp_path: Path) -> None:
    path = broken_copy(
        tmp_path,
        BINS_1M,
        6,
        "1583021040000,2020-03-01T00:04:00Z",
        "1583020860000,2020-03-01T00:01:00Z",
    )
    assert import_error(tmp_path, path) == (
        f"{BINS_1M}:6: field open_time: open time 2020-03-01T00:01:00.000Z is before the bar at "
        "line 5 (2020-03-01T00:03:00.000Z): bars must be in time order without duplicates"
    )


def test_a_bar_off_the_interval_grid_is_an_error(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, KLINES, 5, "1583031600000", "1583033400000")
    msg = import_error(tmp_path, path)
    assert (
        msg
        == f"{KLINES}:5: field open_time: open time 2020-03-01T03:30:00.000Z is not on the 1h grid"
    )


def test_a_rest_record_with_a_bad_mark_price_names_line_and_record(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, REST, 13, '"85516.50151449"', '"abc"')
    assert import_error(tmp_path, path) == (
        f"{REST}:9: record 2: field markPrice: 'abc' is not a number"
    )


def test_broken_json_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, REST, 12, '"fundingRate": "-0.00000743",', '"fundingRate" "x",')
    assert import_error(tmp_path, path) == f"{REST}:12: invalid JSON: Expecting ':' delimiter"


def test_a_gap_without_an_interval_column_that_is_no_interval_means_missing_data(
    tmp_path: Path,
) -> None:
    rows = msgspec.json.decode((DATA / FT_FUNDING).read_bytes())
    del rows[10]
    path = tmp_path / FT_FUNDING
    path.write_bytes(msgspec.json.encode(rows))
    msg = import_error(tmp_path, path)
    assert msg == (
        f"{FT_FUNDING}:1: record 11: field time: 16h from the settlement at line 1 is not a "
        "funding interval (1, 2, 4 or 8 h): missing data?"
    )
    out = tmp_path / "out.jsonl"
    result = run_import([path], out, SPECS, skip_bad=True)
    assert result.skipped == 1 and result.sources[0].skipped == 1
    assert result.counts == {"funding": 89}


def test_an_unknown_csv_header_lists_the_known_layouts(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, API, 1, "funding_rate", "rate")
    msg = import_error(tmp_path, path)
    assert msg.startswith(f"{API}:1: unknown CSV header 'funding_time,funding_interval_hours,rate'")
    assert "binance_funding_api (funding_time,funding_interval_hours,funding_rate)" in msg


def test_skip_bad_skips_and_counts_each_bad_line_per_file(tmp_path: Path) -> None:
    api = broken_copy(tmp_path, API, 17, "0.00020373", "abc")
    text = api.read_text().replace("1583164800004,8,", "1583164800004,x,")
    api.write_text(text)
    klines = broken_copy(tmp_path, KLINES, 3, ",8657.76,", ",-1,")
    out = tmp_path / "out.jsonl"
    result = run_import([api, klines], out, SPECS, skip_bad=True)
    assert result.skipped == 3
    assert [(s.file, s.rows, s.events, s.skipped) for s in result.sources] == [
        (API, 93, 91, 2),
        (KLINES, 48, 47, 1),
    ]
    assert result.problems == [
        f"{API}:7: field funding_interval_hours: 'x' is not a whole number of hours 1..24",
        f"{API}:17: field funding_rate: 'abc' is not a number",
        f"{KLINES}:3: field high: -1.0 is not a positive price",
    ]
    header = decode(out.read_bytes().splitlines()[0])
    assert [s.skipped for s in header.sources] == [2, 1]  # type: ignore[union-attr]


def test_the_same_settlement_in_two_files_is_merged_within_1e_8(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = run_import([DATA / API, DATA / VISION], out, SPECS)
    assert result.merged == 93 and result.merged_by_file == {VISION: 93}
    rows = [ev for ev in read_events(out) if isinstance(ev, FundingSettled)]
    assert len(rows) == 363 and len({r.ts_ms for r in rows}) == 363
    kept = next(r for r in rows if r.ts_ms == 1583078400000)
    assert kept.rate == Decimal("0.00031033") and kept.raw_ts == "1583078400001"  # first file


def test_conflicting_copies_of_a_settlement_are_an_error_naming_both_files_and_lines(
    tmp_path: Path,
) -> None:
    vision = broken_copy(tmp_path, VISION, 185, "0.00018720", "0.00018820")
    msg = import_error(tmp_path, DATA / API, vision)
    assert msg == (
        f"{VISION}:185: field last_funding_rate: rate 0.00018820 conflicts with 0.00018720 at "
        f"{API}:5 for the binance BTCUSDT settlement at 2020-03-02T00:00:00.000Z"
    )


def test_a_duplicated_bitmex_settlement_is_merged_once_with_one_announcement(
    tmp_path: Path,
) -> None:
    lines = (DATA / BITMEX_FUNDING).read_text().splitlines()
    copy = tmp_path / "bitmex_XBTUSD_funding_copy.csv"
    copy.write_text("\n".join([lines[0], *lines[200:220]]) + "\n")
    out = tmp_path / "out.jsonl"
    result = run_import([DATA / BITMEX_FUNDING, copy], out, SPECS)
    assert result.merged == 20
    evs = read_events(out)
    assert sum(isinstance(e, FundingSettled) for e in evs) == 363
    assert sum(isinstance(e, FundingRate) for e in evs) == 363


def test_identical_bars_from_two_files_merge_and_different_ones_conflict(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    copy = tmp_path / "binance_um_BTCUSDT_1h_copy.csv"
    copy.write_text((DATA / KLINES).read_text())
    result = run_import([DATA / KLINES, copy], out, SPECS)
    assert result.merged == 48 and result.counts == {"bar": 48}
    copy.write_text((DATA / KLINES).read_text().replace("8554.99", "8555.99"))
    msg = import_error(tmp_path, DATA / KLINES, copy)
    assert msg == (
        f"{copy.name}:2: the binance BTCUSDT bar opening 2020-03-01T00:00:00.000Z differs from "
        f"the one at {KLINES}:2"
    )


def test_bars_of_two_intervals_for_one_instrument_are_refused(tmp_path: Path) -> None:
    msg = import_error(tmp_path, DATA / BINS_1H, DATA / BINS_1M)
    assert msg == (
        f"{BINS_1M}: 1m bars of bitmex XBTUSD, but {BINS_1H} has 1h bars: import one interval"
    )


def test_an_instrument_without_a_spec_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no instrument spec for bitmex XBTUSD"):
        run_import([DATA / BINS_1H], tmp_path / "out.jsonl", SPECS[:1])


def test_a_file_naming_no_symbol_needs_one_given(tmp_path: Path) -> None:
    path = tmp_path / "bins.csv"
    path.write_text((DATA / BINS_1H).read_text())
    msg = import_error(tmp_path, path)
    assert msg == "bins.csv: the file names no bitmex symbol: give one as --symbol bitmex=SYMBOL"


def test_an_explicit_layout_that_does_not_fit_the_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(ImportDataError) as info:
        run_import([DATA / API], out, SPECS, layouts={DATA / API: "binance_klines"})
    assert (
        str(info.value)
        == f"{API}:1: layout binance_klines needs the columns open_time,open,high,low,close,volume"
    )
    with pytest.raises(ImportDataError, match="layout bitmex_bins does not read JSON files"):
        run_import([DATA / REST], out, SPECS, layouts={DATA / REST: "bitmex_bins"})
    with pytest.raises(ValueError, match="unknown layout 'klines'"):
        run_import([DATA / API], out, SPECS, layouts={DATA / API: "klines"})
    with pytest.raises(ValueError, match="takes no interval"):
        run_import([DATA / API], out, SPECS, layouts={DATA / API: "binance_funding_api:8h"})


def test_two_inputs_with_the_same_file_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"given twice: {API}"):
        run_import([DATA / API, DATA / API], tmp_path / "out.jsonl", SPECS)


def test_the_column_unit_is_the_majority_so_an_odd_first_row_is_the_one_reported(
    tmp_path: Path,
) -> None:
    path = broken_copy(tmp_path, API, 2, "1583020800000", "1583020800")
    out = tmp_path / "out.jsonl"
    result = run_import([path], out, SPECS, skip_bad=True)
    assert result.problems == [
        f"{API}:2: field funding_time: '1583020800' has 10 digits but this column holds ms "
        "(13 digits)"
    ]
    assert result.counts == {"funding": 92}


def test_a_settlement_repeated_within_one_file_is_merged_or_conflicts(tmp_path: Path) -> None:
    lines = (DATA / BITMEX_FUNDING).read_text().splitlines()
    path = tmp_path / BITMEX_FUNDING
    path.write_text("\n".join([*lines, lines[217]]) + "\n")
    out = tmp_path / "out.jsonl"
    result = run_import([path], out, SPECS)
    assert result.merged == 1 and result.counts == {"funding": 363, "funding_rate": 363}
    path.write_text("\n".join([*lines, lines[217].replace(",-0.00375,", ",-0.00374,")]) + "\n")
    assert import_error(tmp_path, path) == (
        f"{BITMEX_FUNDING}:365: field fundingRate: rate -0.00374 conflicts with -0.00375 at "
        f"{BITMEX_FUNDING}:218 for the bitmex XBTUSD settlement at 2020-03-13T04:00:00.000Z"
    )


def test_a_funding_file_newest_first_is_read_in_time_order(tmp_path: Path) -> None:
    lines = (DATA / BITMEX_FUNDING).read_text().splitlines()
    path = tmp_path / BITMEX_FUNDING
    path.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    out = tmp_path / "out.jsonl"
    run_import([path], out, SPECS)
    assert out.read_bytes().splitlines()[1:] == _plain_import(tmp_path, BITMEX_FUNDING)[1:]


def _plain_import(tmp_path: Path, name: str) -> list[bytes]:
    out = tmp_path / "plain.jsonl"
    run_import([DATA / name], out, SPECS)
    return out.read_bytes().splitlines()


def test_a_rate_written_in_percent_is_beyond_the_venues_cap_and_refused(tmp_path: Path) -> None:
    # 0.020373 % written without its % sign: 0.020373, 68 times Binance BTCUSDT's 0.3 % cap
    path = broken_copy(tmp_path, API, 17, "0.00020373", "0.020373")
    assert import_error(tmp_path, path) == (
        f"{API}:17: field funding_rate: rate 0.020373 is beyond the binance BTCUSDT cap of "
        "+-0.003 per 8 h settlement (GET /fapi/v1/fundingInfo adjustedFundingRateCap 0.00300 / "
        "Floor -0.00300 (2026 capture); March 2020 touched the -0.30 % floor (shared data "
        "README)): a rate written in percent without its % sign?"
    )
    result = run_import([path], tmp_path / "out.jsonl", SPECS, skip_bad=True)
    assert result.skipped == 1 and result.counts == {"funding": 92}


def test_rates_at_the_cap_are_kept_and_a_daily_settlement_has_three_times_the_8h_cap(
    tmp_path: Path,
) -> None:
    # BitMEX XBTUSD: -0.375 % six times in March 2020 (at its cap), and 0.7046 % on a daily
    # settlement of May 2016 (within three times it: the cap of a 24 h settlement) are real
    # and kept
    out = tmp_path / "out.jsonl"
    run_import([DATA / BITMEX_FUNDING], out, SPECS)
    rates = [ev.rate for ev in read_events(out) if isinstance(ev, FundingSettled)]
    assert rates.count(Decimal("-0.00375")) == 6
    daily = DATA / "bitmex_XBTUSD_funding_2016-05-14_2016-06-06.csv"
    run_import([daily], out, SPECS)
    daily_rates = [ev.rate for ev in read_events(out) if isinstance(ev, FundingSettled)]
    assert max(daily_rates) == Decimal("0.007046") > Decimal("0.00375")
