"""core.domain.timeutil: every timestamp shape of HAZARDS H3 as an exact value."""

from __future__ import annotations

import pytest

from core.domain import timeutil as tu


def test_an_iso_time_with_milliseconds_and_z_is_parsed_as_utc_ms() -> None:
    assert tu.parse_ts_ms("2023-09-10T20:00:00.000Z") == 1_694_376_000_000


def test_a_bitmex_iso_time_without_fraction_is_parsed() -> None:
    assert tu.parse_ts_ms("2020-03-12T20:00:00Z") == 1_584_043_200_000


def test_an_iso_date_alone_means_its_utc_midnight() -> None:
    assert tu.parse_iso_ms("2020-03-01") == 1_583_020_800_000
    assert tu.parse_iso_ms("2020-03-24T00:00Z") == 1_585_008_000_000


def test_an_iso_offset_is_applied_and_a_missing_offset_means_utc() -> None:
    assert tu.parse_iso_ms("2020-03-01T01:00:00+01:00") == 1_583_020_800_000
    assert tu.parse_iso_ms("2020-03-01 00:00:00") == 1_583_020_800_000


def test_iso_fractions_finer_than_a_millisecond_are_truncated() -> None:
    assert tu.parse_iso_ms("2025-01-01T00:00:00.010866Z") == 1_735_689_600_010


@pytest.mark.parametrize("text", ["2023-13-01T00:00:00Z", "yesterday", "2023-09-10T20:00:00Q"])
def test_text_that_is_no_iso_time_is_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        tu.parse_iso_ms(text)


def test_a_bitmex_interval_date_is_a_duration_of_eight_hours() -> None:
    assert tu.bitmex_interval_ms("2000-01-01T08:00:00.000Z") == 8 * 3_600_000
    assert tu.bitmex_interval_ms("2000-01-01T08:00:00Z") == 28_800_000


def test_a_bitmex_interval_that_is_not_after_its_epoch_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a funding interval"):
        tu.bitmex_interval_ms("2000-01-01T00:00:00Z")
    with pytest.raises(ValueError, match="not a funding interval"):
        tu.bitmex_interval_ms("2023-09-10T20:00:00Z")


def test_a_13_digit_integer_is_milliseconds_with_its_jitter_kept() -> None:
    assert tu.int_unit("1678060800007") == "ms"
    assert tu.parse_ts_ms("1678060800007") == 1_678_060_800_007
    assert tu.ms_to_iso(1_678_060_800_007) == "2023-03-06T00:00:00.007Z"


def test_a_16_digit_integer_is_microseconds() -> None:
    assert tu.int_unit("1735689600010866") == "us"
    assert tu.parse_ts_ms("1735689600010866") == 1_735_689_600_010
    assert tu.ms_to_iso(tu.parse_ts_ms("1735689600010866")) == "2025-01-01T00:00:00.010Z"


def test_a_10_digit_integer_is_seconds() -> None:
    assert tu.int_unit("1623211200") == "s"
    assert tu.parse_ts_ms("1623211200") == 1_623_211_200_000


def test_a_19_digit_integer_is_nanoseconds() -> None:
    assert tu.parse_ts_ms("1583078400001000000") == 1_583_078_400_001


def test_milliseconds_in_the_year_2100_are_rejected_as_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside the sane range"):
        tu.parse_ts_ms("4133404800000")


def test_instants_before_bitcoins_first_day_are_rejected_as_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside the sane range"):
        tu.parse_ts_ms("2009-01-02T23:59:59.999Z")
    assert tu.parse_ts_ms("2009-01-03T00:00:00Z") == tu.MIN_TS_MS
    assert tu.parse_ts_ms("2016-05-14T12:00:00Z") == 1463227200000  # BitMEX's first funding


def test_a_value_of_another_magnitude_than_its_column_is_an_error() -> None:
    with pytest.raises(ValueError, match="13 digits but this column holds s"):
        tu.int_to_ms("1583078400001", "s")
    with pytest.raises(ValueError, match="10 digits but this column holds ms"):
        tu.int_to_ms("1583078400", "ms")


@pytest.mark.parametrize("text", ["15830784000", "-1583078400000", "1583078400000.0", "¹²³"])
def test_integers_of_no_known_unit_or_shape_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        tu.parse_ts_ms(text)


def test_settlement_jitter_of_seconds_or_milliseconds_snaps_to_the_whole_hour() -> None:
    eight = tu.parse_ts_ms("2020-03-02T08:00:00Z")
    assert tu.normalise_settlement_ms(eight + 3_000) == eight  # 08:00:03
    assert tu.normalise_settlement_ms(1_583_078_400_001) == 1_583_078_400_000
    midnight = tu.parse_ts_ms("2023-03-06T00:00:00Z")
    assert tu.normalise_settlement_ms(1_678_060_800_007) == midnight  # 00:00:00.007
    assert tu.normalise_settlement_ms(eight - 2_000) == eight  # 07:59:58


def test_a_settlement_further_than_a_minute_from_the_hour_is_an_error() -> None:
    eight = tu.parse_ts_ms("2020-03-02T08:00:00Z")
    assert tu.normalise_settlement_ms(eight + 60_000) == eight
    with pytest.raises(ValueError, match=r"60\.001 s from the whole hour"):
        tu.normalise_settlement_ms(eight + 60_001)


def test_ms_to_iso_always_writes_milliseconds_and_z() -> None:
    assert tu.ms_to_iso(1_694_376_000_000) == "2023-09-10T20:00:00.000Z"
    assert tu.ms_to_iso(1_583_024_399_999) == "2020-03-01T00:59:59.999Z"


def test_durations_read_and_write_in_their_shortest_exact_form() -> None:
    assert tu.parse_duration_ms("1m") == 60_000
    assert tu.parse_duration_ms("8h") == 28_800_000
    assert tu.parse_duration_ms("1d") == 86_400_000
    assert tu.format_duration_ms(3_600_000) == "1h"
    assert tu.format_duration_ms(90_000) == "90s"
    ages = [tu.format_age_s(s) for s in (0, 119.4, 120, 7199, 7200, 172_799, 206_885_841)]
    assert ages == ["0 s", "119 s", "2 min", "120 min", "2 h", "48 h", "2395 d"]
    with pytest.raises(ValueError):
        tu.parse_duration_ms("0h")
