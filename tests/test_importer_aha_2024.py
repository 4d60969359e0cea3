"""The March 2024 8 h files (Binance BTCUSDT, Bybit BTCUSDT and inverse BTCUSD; AHA-HH series
and the Binance web export): layouts, bars at their true close, settlements, errors.

Values are traced to rows of the copies in tests/data (tests/data/README.md names the
sources). In these files a Bybit bar labelled t covers [t - 4 h, t + 4 h); a Binance bar
labelled t covers [t, t + 8 h)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.analysis.importer import ImportDataError, ImportResult, run_import
from core.analysis.importer.layouts import LAYOUTS, detect_layout
from core.analysis.importer.readers import read_text
from core.domain.events import Bar, Event, FundingSettled, ReplayHeader, decode
from core.venues import registry
from core.venues.history import history_layouts
from tests.conftest import ROOT
from tests.importer_files import (
    BINANCE_BARS_AHA,
    BINANCE_FUNDING_AHA,
    BYBIT_BARS_AHA,
    BYBIT_FUNDING_AHA,
    BYBIT_INV_BARS_AHA,
    BYBIT_INV_FUNDING_AHA,
    DATA,
    HOUR_MS,
    SPECS_2024,
    WEBEXPORT_2024,
)
from tests.test_venue_names import venue_literals

T_0305_00 = 1709596800000  # 2024-03-05T00:00Z
T_0305_08 = 1709625600000  # 2024-03-05T08:00Z


def import_events(
    tmp_path: Path, *inputs: str | Path, **kwargs: Any
) -> tuple[ImportResult, list[Event]]:
    out = tmp_path / "out.jsonl"
    paths = [p if isinstance(p, Path) else DATA / p for p in inputs]
    result = run_import(paths, out, SPECS_2024, **kwargs)
    lines = [decode(line) for line in out.read_bytes().splitlines()]
    assert isinstance(lines[0], ReplayHeader)
    return result, [ev for ev in lines[1:] if not isinstance(ev, ReplayHeader)]


def broken_copy(tmp_path: Path, name: str, line_no: int, old: str, new: str) -> Path:
    """A copy of tests/data/NAME whose line LINE_NO (1-based) has OLD replaced by NEW."""
    lines = (DATA / name).read_text().splitlines(keepends=True)
    assert old in lines[line_no - 1], lines[line_no - 1]
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        (WEBEXPORT_2024, "binance_funding_vision"),
        (BINANCE_FUNDING_AHA, "binance_funding_aha"),
        (BYBIT_FUNDING_AHA, "bybit_funding_aha"),
        (BYBIT_INV_FUNDING_AHA, "bybit_funding_aha"),
        (BINANCE_BARS_AHA, "binance_bars_aha"),
        (BYBIT_BARS_AHA, "bybit_bars_aha"),
        (BYBIT_INV_BARS_AHA, "bybit_bars_aha"),
    ],
)
def test_each_2024_file_is_detected_from_its_header_and_the_venue_in_its_name(
    name: str, layout: str
) -> None:
    assert detect_layout(read_text(DATA / name), name).name == layout


def test_a_header_two_venues_share_needs_the_venue_in_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT_funding_8h.csv"
    path.write_bytes((DATA / BYBIT_FUNDING_AHA).read_bytes())
    with pytest.raises(ImportDataError) as info:
        run_import([path], tmp_path / "out.jsonl", SPECS_2024)
    assert str(info.value) == (
        "BTCUSDT_funding_8h.csv:1: the CSV header 'funding_time,funding_time_iso,funding_rate' "
        "fits the layouts binance_funding_aha, bybit_funding_aha: name the venue in the file "
        "name or give --layout FILE=NAME"
    )
    _, events = import_events(tmp_path, path, layouts={path: "bybit_funding_aha"})
    assert {(ev.venue, ev.symbol) for ev in events} == {("bybit", "BTCUSDT")}


def test_a_bybit_bar_labelled_t_opens_at_t_minus_4h_and_is_known_at_t_plus_4h(
    tmp_path: Path,
) -> None:
    _, events = import_events(tmp_path, BYBIT_BARS_AHA)
    bars = {ev.open_ts_ms: ev for ev in events if isinstance(ev, Bar)}
    assert len(bars) == 63
    # line 15: label 2024-03-05T08:00Z, bar_start_inferred 2024-03-05T04:00Z
    bar = bars[T_0305_08 - 4 * HOUR_MS]
    assert bar.ts_ms == T_0305_08 + 4 * HOUR_MS - 1
    assert (bar.venue, bar.symbol, bar.interval_ms) == ("bybit", "BTCUSDT", 8 * HOUR_MS)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        68223.2,
        68521.0,
        64878.0,
        66753.4,
        96821.84,
    )
    # line 2: the first bar, labelled 2024-03-01T00:00Z, covers 2024-02-29T20:00Z..04:00Z
    first = min(bars.values(), key=lambda b: b.open_ts_ms)
    assert (first.open_ts_ms, first.ts_ms) == (1709236800000, 1709265599999)
    assert first.close == 61162.2


def test_a_binance_bar_labelled_t_opens_at_t_and_is_known_at_t_plus_8h(tmp_path: Path) -> None:
    _, events = import_events(tmp_path, BINANCE_BARS_AHA)
    bars = {ev.open_ts_ms: ev for ev in events if isinstance(ev, Bar)}
    bar = bars[T_0305_08]  # line 15
    assert bar.ts_ms == T_0305_08 + 8 * HOUR_MS - 1
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        66223.8,
        69350.0,
        65600.0,
        66841.3,
        268529.839,
    )


def test_the_bybit_settlement_of_5_march_08h_sees_the_bar_labelled_00h_not_08h(
    tmp_path: Path,
) -> None:
    _, events = import_events(tmp_path, BYBIT_FUNDING_AHA, BYBIT_BARS_AHA)
    i = next(
        i for i, ev in enumerate(events) if isinstance(ev, FundingSettled) and ev.ts_ms == T_0305_08
    )
    settlement = events[i]
    assert isinstance(settlement, FundingSettled)
    assert settlement.rate == Decimal("0.00112788")  # funding file line 15: the window's max
    assert settlement.interval_ms == 8 * HOUR_MS and settlement.raw_ts == "1709625600000"
    seen = [ev for ev in events[:i] if isinstance(ev, Bar)]
    # bars file line 14: labelled 2024-03-05T00:00Z, closed 03:59:59.999Z at 68223.2; the bar
    # labelled 08:00Z (close 66753.4) only closes at 11:59:59.999Z.
    assert seen[-1].ts_ms == T_0305_00 + 4 * HOUR_MS - 1
    assert seen[-1].close == 68223.2
    assert all(ev.close != 66753.4 for ev in seen)


def test_the_inverse_btcusd_files_are_bybit_btcusd_with_their_own_rates(tmp_path: Path) -> None:
    result, events = import_events(tmp_path, BYBIT_INV_FUNDING_AHA, BYBIT_INV_BARS_AHA)
    assert {(ev.venue, ev.symbol) for ev in events} == {("bybit", "BTCUSD")}
    (spec,) = result.header.instruments
    assert (spec.kind, spec.contract_size, spec.settle_currency, spec.quote) == (
        "inverse",
        Decimal(1),
        "BTC",
        "USD",
    )
    rates = {ev.ts_ms: ev.rate for ev in events if isinstance(ev, FundingSettled)}
    assert rates[T_0305_08] == Decimal("0.00082584")  # funding file line 15
    assert max(rates.values()) == rates[1710172800000] == Decimal("0.00141038")  # line 34
    assert sum(rates.values()) == Decimal("0.02524991")
    bars = {ev.open_ts_ms: ev for ev in events if isinstance(ev, Bar)}
    assert bars[T_0305_08 - 4 * HOUR_MS].close == 66783.0  # bars file line 15
    assert bars[T_0305_08 - 4 * HOUR_MS].volume == 15027.02747  # turnover in BTC


def test_every_aha_funding_record_settles_at_00_08_16_with_an_8h_interval(tmp_path: Path) -> None:
    _, events = import_events(tmp_path, WEBEXPORT_2024, BYBIT_FUNDING_AHA, BYBIT_INV_FUNDING_AHA)
    funding = [ev for ev in events if isinstance(ev, FundingSettled)]
    assert len(funding) == 3 * 63
    assert {ev.ts_ms // HOUR_MS % 24 for ev in funding} == {0, 8, 16}
    assert {ev.interval_ms for ev in funding} == {8 * HOUR_MS}


def test_the_binance_web_export_and_the_aha_series_agree_and_merge(tmp_path: Path) -> None:
    result, events = import_events(tmp_path, WEBEXPORT_2024, BINANCE_FUNDING_AHA)
    assert result.merged == 63 and len(events) == 63
    rates = {ev.ts_ms: ev for ev in events if isinstance(ev, FundingSettled)}
    # web export line 16 keeps Binance's 8 decimals; the AHA copy writes 0.00088148 too
    assert rates[1709654400000].raw_rate == "0.00088148"
    assert rates[1709308800000].raw_rate == "0.00046010"  # the AHA file has 0.0004601


def test_a_stated_bar_start_that_contradicts_the_venue_convention_names_file_line_field(
    tmp_path: Path,
) -> None:
    # line 15 claims the bar labelled 08:00 starts at 08:00 (the Binance convention)
    path = broken_copy(
        tmp_path,
        BYBIT_BARS_AHA,
        15,
        "1709611200000,2024-03-05T04:00:00Z",
        "1709625600000,2024-03-05T08:00:00Z",
    )
    with pytest.raises(ImportDataError) as info:
        run_import([path], tmp_path / "out.jsonl", SPECS_2024)
    assert str(info.value) == (
        f"{BYBIT_BARS_AHA}:15: field bar_start_inferred: states the open "
        "2024-03-05T08:00:00.000Z, but a 8h bybit bar labelled 2024-03-05T08:00:00.000Z opens "
        "at 2024-03-05T04:00:00.000Z (label at its middle)"
    )


def test_an_iso_copy_that_disagrees_names_file_line_field(tmp_path: Path) -> None:
    path = broken_copy(
        tmp_path, BYBIT_FUNDING_AHA, 15, "2024-03-05T08:00:00Z", "2024-03-05T09:00:00Z"
    )
    with pytest.raises(ImportDataError) as info:
        run_import([path], tmp_path / "out.jsonl", SPECS_2024)
    assert str(info.value) == (
        f"{BYBIT_FUNDING_AHA}:15: field funding_time_iso: '2024-03-05T09:00:00Z' disagrees "
        "with funding_time (2024-03-05T08:00:00.000Z)"
    )
    bars = broken_copy(
        tmp_path, BINANCE_BARS_AHA, 4, "1709308800000,2024-03-01T16:00:00Z,", "1709308800000,x,"
    )
    with pytest.raises(ImportDataError) as info:
        run_import([bars], tmp_path / "out.jsonl", SPECS_2024)
    assert str(info.value).startswith(f"{BINANCE_BARS_AHA}:4: field label_time_iso: 'x' ")


def test_a_bybit_label_off_the_8h_grid_is_named_as_a_label(tmp_path: Path) -> None:
    path = broken_copy(
        tmp_path,
        BYBIT_BARS_AHA,
        15,
        "1709625600000,2024-03-05T08:00:00Z",
        "1709629200000,2024-03-05T09:00:00Z",
    )
    with pytest.raises(ImportDataError) as info:
        run_import([path], tmp_path / "out.jsonl", SPECS_2024)
    assert str(info.value) == (
        f"{BYBIT_BARS_AHA}:15: field label_time: label 2024-03-05T09:00:00.000Z is not on the "
        "8h grid"
    )


def test_a_bad_rate_in_a_bybit_file_names_file_line_field(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, BYBIT_INV_FUNDING_AHA, 34, "0.00141038", "0.0014x")
    with pytest.raises(ImportDataError) as info:
        run_import([path], tmp_path / "out.jsonl", SPECS_2024)
    assert str(info.value) == (
        f"{BYBIT_INV_FUNDING_AHA}:34: field funding_rate: '0.0014x' is not a number"
    )


def test_each_venue_keeps_its_layouts_in_its_own_history_module() -> None:
    for layout in history_layouts():
        assert layout.venue in registry.names()
    by_venue = {lay.venue for lay in history_layouts()}
    assert by_venue == set(registry.names())
    assert list(LAYOUTS) == [lay.name for lay in history_layouts()]
    assert LAYOUTS["bybit_bars_aha"].label_at == "middle"
    assert LAYOUTS["binance_bars_aha"].label_at == "open"


def test_the_importer_and_its_command_name_no_venue() -> None:
    pattern = re.compile(r"(?i)\b(" + "|".join(registry.names()) + r")\b")
    paths = [*(ROOT / "core" / "analysis" / "importer").glob("*.py")]
    paths.append(ROOT / "tui" / "commands" / "import_.py")
    assert [f for p in sorted(paths) for f in venue_literals(p, pattern)] == []
