"""Replay files: a bad line is reported with the file and line number."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from core.analysis.replay import ReplayError, iter_replay, load_replay
from tests.conftest import SHIPPED_REPLAY


def first_lines(n: int) -> list[bytes]:
    with gzip.open(SHIPPED_REPLAY, "rb") as fh:
        return [fh.readline() for _ in range(n)]


def test_the_shipped_replay_loads_in_time_order() -> None:
    header, events = load_replay(SHIPPED_REPLAY)
    assert header.events == len(events) == 33_879
    assert {(i.venue, i.symbol) for i in header.instruments} == {
        ("binance", "BTCUSDT"),
        ("bitmex", "XBTUSD"),
    }
    assert events[0].ts_ms >= header.start_ts_ms


def test_a_broken_line_names_file_and_line(tmp_path: Path) -> None:
    lines = first_lines(6)
    lines[3] = lines[3].replace(b'"close":', b'"close":"x","c":')
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(lines))
    _, events = iter_replay(bad)
    with pytest.raises(
        ReplayError, match=r"bad\.jsonl:4: Expected `float`, got `str` - at `\$\.close`"
    ):
        list(events)


@pytest.mark.parametrize("close", [b"0", b"-5", b"0.0"])
def test_a_price_of_zero_or_less_names_file_line_and_field(tmp_path: Path, close: bytes) -> None:
    """A bar closing at 0 or below never reaches the engine (it crashed on the log return
    with "math domain error", naming nothing): the line is refused with its field."""
    lines = first_lines(6)
    head, _, tail = lines[3].partition(b'"close":')
    lines[3] = head + b'"close":' + close + tail[tail.index(b",") :]
    bad = tmp_path / "zero.jsonl"
    bad.write_bytes(b"".join(lines))
    _, events = iter_replay(bad)
    with pytest.raises(
        ReplayError, match=r"zero\.jsonl:4: Expected `float` > 0\.0 - at `\$\.close`"
    ):
        list(events)


def test_events_out_of_order_are_refused(tmp_path: Path) -> None:
    lines = first_lines(6)
    lines[2], lines[4] = lines[4], lines[2]
    bad = tmp_path / "order.jsonl"
    bad.write_bytes(b"".join(lines))
    _, events = iter_replay(bad)
    with pytest.raises(ReplayError, match=r"order\.jsonl:4: event out of time order"):
        list(events)


def test_a_file_without_header_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "nohead.jsonl"
    bad.write_bytes(b"".join(first_lines(4)[1:]))
    with pytest.raises(
        ReplayError, match=r"nohead\.jsonl:1: the first line must be the replay header"
    ):
        iter_replay(bad)


def test_an_unknown_event_type_is_refused(tmp_path: Path) -> None:
    lines = first_lines(3)
    lines.append(b'{"type":"trade","ts_ms":1}\n')
    bad = tmp_path / "unknown.jsonl"
    bad.write_bytes(b"".join(lines))
    _, events = iter_replay(bad)
    with pytest.raises(ReplayError, match=r"unknown\.jsonl:4: Invalid value 'trade'"):
        list(events)


def test_a_file_cut_at_a_line_boundary_is_refused_not_replayed_short(tmp_path: Path) -> None:
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(first_lines(1000)))
    _, events = iter_replay(cut)
    with pytest.raises(ReplayError, match=r"cut\.jsonl:1000: the file ends after 999 events; "
                       r"its header promises 33879 \(cut short\?\)"):  # fmt: skip
        list(events)


def test_a_gzip_cut_mid_stream_plays_what_it_holds_and_names_the_line_after(
    tmp_path: Path,
) -> None:
    # the shipped gzip cut at half its bytes: its first 17,808 events decompress; the error
    # names the line after the last whole one, not line 1
    data = SHIPPED_REPLAY.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    _, events = iter_replay(cut)
    played = 0
    with pytest.raises(ReplayError) as info:
        for _ in events:
            played += 1
    assert played == 17_808
    assert str(info.value) == (
        f"{cut}:17810: cannot read: Compressed file ended before the end-of-stream marker was "
        "reached (cut short after line 17809?)"
    )
