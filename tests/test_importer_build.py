"""run_import end to end: window clip, header, ordering, round trip, gzip, and the CLI."""

from __future__ import annotations

import argparse
import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from core.analysis.importer import ImportDataError, run_import
from core.domain.events import (
    Bar,
    FundingRate,
    FundingSettled,
    ReplayHeader,
    decode,
    encode,
    sort_key,
)
from tests.importer_files import API, BINS_1M, BITMEX_FUNDING, DATA, KLINES, SPECS
from tui.commands import import_ as cli

ALL_BTC = [API, BITMEX_FUNDING, KLINES, BINS_1M]

MARCH_12 = 1583971200000  # 2020-03-12T00:00Z
MARCH_13 = 1584057600000


def lines_of(path: Path) -> list[bytes]:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.splitlines()


def test_a_window_keeps_only_events_inside_start_inclusive_end_exclusive(tmp_path: Path) -> None:
    out = tmp_path / "day.jsonl"
    result = run_import(
        [DATA / n for n in ALL_BTC], out, SPECS, start_ts_ms=MARCH_12, end_ts_ms=MARCH_13
    )
    events = [decode(x) for x in lines_of(out)[1:]]
    assert all(MARCH_12 <= ev.ts_ms < MARCH_13 for ev in events)  # type: ignore[union-attr]
    binance = [e for e in events if isinstance(e, FundingSettled) and e.venue == "binance"]
    assert [e.ts_ms for e in binance] == [
        MARCH_12,
        MARCH_12 + 8 * 3600_000,
        MARCH_12 + 16 * 3600_000,
    ]
    # BitMEX: 04/12/20 settle; the 20:00 announcement is for 2020-03-13T04:00 (outside) and
    # is kept; the announcement of 2020-03-12T04:00 happened on 2020-03-11 and is not.
    announced = [e for e in events if isinstance(e, FundingRate)]
    assert [(e.ts_ms, e.settlement_ts_ms, e.rate) for e in announced] == [
        (MARCH_12 + 4 * 3600_000, MARCH_12 + 12 * 3600_000, Decimal("0.0001")),
        (MARCH_12 + 12 * 3600_000, MARCH_12 + 20 * 3600_000, Decimal("-0.001691")),
        (MARCH_12 + 20 * 3600_000, MARCH_13 + 4 * 3600_000, Decimal("-0.00375")),
    ]
    assert result.counts == {"bar": 24 + 240, "funding": 6, "funding_rate": 3}
    assert result.header.start_ts_ms == MARCH_12 and result.header.end_ts_ms == MARCH_13
    assert result.clipped > 0


def test_the_replay_round_trips_through_decode_in_sort_key_order(tmp_path: Path) -> None:
    out = tmp_path / "btc.jsonl"
    result = run_import([DATA / n for n in ALL_BTC], out, SPECS)
    lines = lines_of(out)
    header = decode(lines[0])
    assert isinstance(header, ReplayHeader)
    events = [decode(x) for x in lines[1:]]
    assert [encode(ev) for ev in events] == lines[1:]
    assert header.events == len(events) == result.events
    keys = [sort_key(ev) for ev in events]  # type: ignore[arg-type]
    assert keys == sorted(keys)
    assert header.start_ts_ms == events[0].ts_ms  # type: ignore[union-attr]
    assert header.end_ts_ms == events[-1].ts_ms + 1  # type: ignore[union-attr]
    assert [(i.venue, i.symbol) for i in header.instruments] == [
        ("binance", "BTCUSDT"),
        ("bitmex", "XBTUSD"),
    ]
    assert header.instruments[1].taker_fee == Decimal("0.00075")
    assert [(s.file, s.layout, s.venue, s.symbol, s.rows) for s in header.sources] == [
        (API, "binance_funding_api", "binance", "BTCUSDT", 93),
        (BITMEX_FUNDING, "bitmex_funding", "bitmex", "XBTUSD", 363),
        (KLINES, "binance_klines", "binance", "BTCUSDT", 48),
        (BINS_1M, "bitmex_bins", "bitmex", "XBTUSD", 300),
    ]
    assert sum(s.events for s in header.sources) == header.events
    assert b"/" not in lines[0].split(b'"sources"')[1]  # base names, no paths
    first_bar = next(ev for ev in events if isinstance(ev, Bar))
    assert first_bar.ts_ms == 1583020859999  # the first 1 m bin closes before the 1 h kline


def test_gzip_output_holds_the_same_lines_and_is_byte_for_byte_reproducible(
    tmp_path: Path,
) -> None:
    plain, packed, again = tmp_path / "a.jsonl", tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    for out in (plain, packed, again):
        run_import([DATA / n for n in ALL_BTC], out, SPECS)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert packed.read_bytes() == again.read_bytes()
    assert not list(tmp_path.glob("*.part"))


def test_an_empty_window_or_reversed_window_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportDataError, match="no events inside the window"):
        run_import([DATA / API], tmp_path / "x.jsonl", SPECS, start_ts_ms=1, end_ts_ms=2)
    with pytest.raises(ValueError, match="window is empty"):
        run_import([DATA / API], tmp_path / "x.jsonl", SPECS, start_ts_ms=5, end_ts_ms=5)


def test_a_layout_for_a_file_that_is_not_an_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an input"):
        run_import(
            [DATA / API], tmp_path / "x.jsonl", SPECS, layouts={DATA / KLINES: "binance_klines"}
        )


def test_progress_reports_each_source_and_the_output(tmp_path: Path) -> None:
    seen: list[str] = []
    run_import([DATA / API], tmp_path / "x.jsonl", SPECS, progress=seen.append)
    assert seen == [f"reading {API}", f"wrote 93 events to {tmp_path / 'x.jsonl'}"]


def parse_cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="arbtui import")
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_cli_prints_one_line_per_source_and_a_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "day.jsonl.gz"
    args = parse_cli(
        [
            *(str(DATA / n) for n in ALL_BTC),
            "--out",
            str(out),
            "--start",
            "2020-03-12",
            "--end",
            "2020-03-13T00:00Z",
        ]
    )
    assert cli.run(args, SPECS) == 0
    printed = capsys.readouterr().out.splitlines()
    assert (
        printed[0]
        == f"{API}: binance_funding_api binance BTCUSDT: 93 rows -> 3 events, 0 skipped, 0 merged"
    )
    assert printed[-1].startswith(
        "total: 273 events (bar 264, funding 6, funding_rate 3) from 2020-03-12T00:00:00.000Z "
        "to 2020-03-13T00:00:00.000Z; 0 skipped, 0 merged,"
    )
    assert len(printed) == 5 and out.exists()


def test_the_cli_takes_symbols_and_layouts_and_reports_skipped_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bins = tmp_path / "bins.csv"
    lines = (DATA / BINS_1M).read_text().splitlines()
    bins.write_text("\n".join([*lines[:3], lines[3].replace("8569.0", "oops"), *lines[4:]]) + "\n")
    args = parse_cli(
        [
            str(bins),
            "--out",
            str(tmp_path / "x.jsonl"),
            "--skip-bad",
            "--symbol",
            "bitmex=XBTUSD",
            "--layout",
            f"{bins}=bitmex_bins:1m",
        ]
    )
    assert cli.run(args, SPECS) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == (
        "bins.csv: bitmex_bins bitmex XBTUSD: 300 rows -> 299 events, 1 skipped, 0 merged"
    )
    assert captured.err == "skipped: bins.csv:4: field high: 'oops' is not a number\n"


def test_the_cli_reports_errors_on_stderr_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / API
    bad.write_text((DATA / API).read_text().replace("0.00020373", "abc"))
    assert cli.run(parse_cli([str(bad), "--out", str(tmp_path / "x.jsonl")]), SPECS) == 2
    assert capsys.readouterr().err == (
        f"arbtui import: error: {API}:17: field funding_rate: 'abc' is not a number\n"
    )
    assert cli.run(parse_cli([str(bad), "--out", "x", "--start", "March"]), SPECS) == 2
    assert "--start: 'March' is not an ISO 8601 date-time" in capsys.readouterr().err
    assert cli.run(parse_cli([str(bad), "--out", "x", "--symbol", "bitmex"]), SPECS) == 2
    assert "--symbol 'bitmex': expected KEY=VALUE" in capsys.readouterr().err
    missing = tmp_path / "missing.csv"
    assert cli.run(parse_cli([str(missing), "--out", "x"]), SPECS) == 2
    assert "missing.csv: cannot read" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
