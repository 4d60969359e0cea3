"""The columnar replay form (Arrow IPC) and the block reader of JSON lines: same events, same
report, errors that name the file."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from core.analysis.replay import ReplayError, convert_replay, iter_replay, load_replay
from core.domain.events import (
    Bar,
    Event,
    FundingRate,
    FundingSettled,
    Quote,
    ReplayHeader,
    encode,
)
from tests.conftest import HISTORY_CONFIG, ROOT, SHIPPED_REPLAY

pytest.importorskip("pyarrow", reason="the columnar form needs the arrow extra (pyarrow)")

from core.analysis.replay_arrow import BATCH_ROWS, write_arrow

#: 2020-03-01T00:00Z: the synthetic events' times are offsets from it (a reader refuses a
#: ``ts_ms`` outside 2009..2040, HAZARDS H3).
T0 = 1_583_020_800_000


def every_kind() -> list[Event]:
    """Each event type with every optional field both set and left out (times: offsets from
    :data:`T0` in ms)."""
    return [_after_t0(e) for e in _every_kind_from_0()]


def _after_t0(ev: Event) -> Event:
    shift = {
        name: getattr(ev, name) + T0
        for name in ("ts_ms", "open_ts_ms", "settlement_ts_ms")
        if getattr(ev, name, None) is not None
    }
    return msgspec.structs.replace(ev, **shift)


def _every_kind_from_0() -> list[Event]:
    return [
        FundingSettled(
            ts_ms=1_000,
            venue="binance",
            symbol="BTCUSDT",
            rate=Decimal("0.00049317"),
            interval_ms=28_800_000,
            raw_ts="1000",
            raw_rate="0.00049317",
        ),
        FundingSettled(
            ts_ms=1_000,
            venue="bitmex",
            symbol="XBTUSD",
            rate=Decimal("-0.00375"),
            interval_ms=28_800_000,
            mark_price=Decimal("5012.37"),
            settlement_ts_ms=990,
        ),
        FundingRate(
            ts_ms=1_000,
            venue="bitmex",
            symbol="XBTUSD",
            rate=Decimal("-1E-8"),
            settlement_ts_ms=29_801_000,
            interval_ms=28_800_000,
            fixed=True,
        ),
        Bar(
            ts_ms=60_999,
            venue="bitmex",
            symbol="XBTUSD",
            open_ts_ms=1_000,
            interval_ms=60_000,
            open=8531.5,
            high=8554.0,
            low=8526.0,
            close=8554.0,
            volume=8959481.0,
        ),
        Bar(
            ts_ms=60_999,
            venue="binance",
            symbol="BTCUSDT",
            open_ts_ms=1_000,
            interval_ms=60_000,
            open=0.1 + 0.2,
            high=1e300,
            low=5e-324,
            close=8554.99,
        ),
        Quote(ts_ms=61_000, venue="binance", symbol="BTCUSDT", mark=8555.1, bid=8555.0),
        Quote(ts_ms=61_001, venue="bybit", symbol="BTCUSD", index=1.5, ask=2.5, mark=None),
        FundingRate(
            ts_ms=61_002,
            venue="binance",
            symbol="BTCUSDT",
            rate=Decimal("0.000100000"),
            settlement_ts_ms=86_400_000,
            interval_ms=28_800_000,
            fixed=False,
        ),
    ]


def header_for(events: list[Event]) -> ReplayHeader:
    h, _ = iter_replay(SHIPPED_REPLAY)
    return ReplayHeader(
        instruments=h.instruments,
        start_ts_ms=events[0].ts_ms,
        end_ts_ms=events[-1].ts_ms + 1,
        events=len(events),
        sources=h.sources,
    )


def test_every_event_type_round_trips_exactly_through_the_columnar_form(tmp_path: Path) -> None:
    events = every_kind()
    header = header_for(events)
    path = write_arrow(tmp_path / "all.arrow", header, events)
    got_header, got = load_replay(path)
    assert got_header == header
    assert got == events
    assert [encode(e) for e in got] == [encode(e) for e in events]  # Decimal text kept too
    assert [type(e) for e in got] == [type(e) for e in events]


def test_the_shipped_replay_converts_to_columnar_and_back_to_the_same_events(
    tmp_path: Path,
) -> None:
    header, events = load_replay(SHIPPED_REPLAY)
    arrow = convert_replay(SHIPPED_REPLAY, tmp_path / "btc.arrow")
    back = convert_replay(arrow, tmp_path / "btc.jsonl.gz")
    assert arrow.read_bytes()[:6] == b"ARROW1"
    assert load_replay(arrow) == (header, events)
    assert load_replay(back) == (header, events)
    assert len(events) == 33_879 > BATCH_ROWS // 2


def report_of(replay: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(HISTORY_CONFIG),
         "--replay", str(replay), "--headless", "--report", "json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=180,
    )  # fmt: skip
    report = json.loads(out.stdout)
    for volatile in ("wall_s", "events_per_s", "run", "replay", "audit", "log"):
        report.pop(volatile, None)
    return report  # type: ignore[no-any-return]


def test_arbtui_import_writes_the_columnar_form_and_the_headless_report_is_the_same(
    tmp_path: Path,
) -> None:
    arrow = tmp_path / "btc_2020-03.arrow"
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(HISTORY_CONFIG), "import",
         str(SHIPPED_REPLAY), "--out", str(arrow)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "a replay file ->" in done.stdout and "columnar" in done.stdout
    from_json, from_arrow = report_of(SHIPPED_REPLAY), report_of(arrow)
    assert from_arrow == from_json
    assert from_json["events"] == 33_879


def test_a_columnar_file_out_of_time_order_names_the_file_and_row(tmp_path: Path) -> None:
    events = every_kind()
    events[3], events[5] = events[5], events[3]
    path = write_arrow(tmp_path / "order.arrow", header_for(events), events)
    _, it = iter_replay(path)
    with pytest.raises(ReplayError, match=r"order\.arrow: event row 4: .* \(ts_ms 1583020860999\)"):
        list(it)


def test_a_columnar_file_cut_short_is_refused(tmp_path: Path) -> None:
    events = every_kind()
    header = header_for(events)
    path = write_arrow(tmp_path / "short.arrow", header, events[:4])
    _, it = iter_replay(path)
    with pytest.raises(ReplayError, match=r"the file ends after 4 events; its header promises 8"):
        list(it)


def test_the_block_reader_finds_a_bad_line_deep_in_a_large_block(tmp_path: Path) -> None:
    with gzip.open(SHIPPED_REPLAY, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    lines[20_000] = lines[20_000].replace(b'"close":', b'"close":"x","c":')
    bad = tmp_path / "deep.jsonl"
    bad.write_bytes(b"".join(lines))
    _, it = iter_replay(bad)
    with pytest.raises(ReplayError, match=r"deep\.jsonl:20001: Expected `float`, got `str`"):
        list(it)


def test_the_block_reader_names_the_line_out_of_order_and_skips_blank_lines(
    tmp_path: Path,
) -> None:
    with gzip.open(SHIPPED_REPLAY, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    assert len(list(iter_replay(SHIPPED_REPLAY)[1])) == 33_879
    blank = [*lines[:100], b"\n", *lines[100:]]
    (tmp_path / "blank.jsonl").write_bytes(b"".join(blank))
    assert load_replay(tmp_path / "blank.jsonl") == load_replay(SHIPPED_REPLAY)
    lines[30_000], lines[30_001] = lines[30_001], lines[30_000]
    (tmp_path / "swap.jsonl").write_bytes(b"".join(lines))
    _, it = iter_replay(tmp_path / "swap.jsonl")
    with pytest.raises(ReplayError, match=r"swap\.jsonl:30002: .* \(ts_ms 1584780479999\)"):
        list(it)
