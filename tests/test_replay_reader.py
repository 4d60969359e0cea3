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


@pytest.mark.parametrize("block_bytes", [1 << 20, 200])  # one block; a block a line or so
def test_a_settlement_before_a_bar_of_its_instant_is_out_of_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int
) -> None:
    """At one ``ts_ms`` prices come first, then settlements, then rates (``ORDER``): the
    reader's per-block check finds a tie broken the wrong way, within a block or across two
    (``BLOCK_BYTES`` 200: about a line a block), at the later line."""
    monkeypatch.setattr("core.analysis.replay.BLOCK_BYTES", block_bytes)
    lines = first_lines(5)  # header, binance funding at 00:00, three bitmex bars
    bar_ts = b"1583020859999"  # the first bar's close: the settlement moved onto it
    funding = lines[1].replace(b'"ts_ms":1583020800000', b'"ts_ms":' + bar_ts)
    assert funding != lines[1] and bar_ts in lines[2]
    lines[0] = lines[0].replace(b'"events":33879', b'"events":4')
    good = tmp_path / "good.jsonl"  # the bar, then the settlement of its instant: in order
    good.write_bytes(b"".join([lines[0], lines[2], funding, lines[3], lines[4]]))
    _, events = iter_replay(good)
    assert [(type(e).__name__, e.ts_ms) for e in events] == [
        ("Bar", 1583020859999),
        ("FundingSettled", 1583020859999),
        ("Bar", 1583020919999),
        ("Bar", 1583020979999),
    ]
    bad = tmp_path / "tie.jsonl"  # the settlement first: the bar on line 3 is out of order
    bad.write_bytes(b"".join([lines[0], funding, lines[2], lines[3], lines[4]]))
    _, events = iter_replay(bad)
    with pytest.raises(
        ReplayError, match=r"tie\.jsonl:3: event out of time order \(ts_ms 1583020859999\)"
    ):
        list(events)


def test_a_gzip_of_two_members_reads_as_one_file(tmp_path: Path) -> None:
    """``cat a.gz b.gz`` is one gzip file (RFC 1952 section 2.2): the shipped replay cut in
    two at a line, each half compressed alone, reads as the whole file."""
    data = gzip.decompress(SHIPPED_REPLAY.read_bytes())
    cut = data.index(b"\n", len(data) // 2) + 1
    two = tmp_path / "two.jsonl.gz"
    two.write_bytes(gzip.compress(data[:cut], mtime=0) + gzip.compress(data[cut:], mtime=0))
    assert load_replay(two) == load_replay(SHIPPED_REPLAY)


def test_a_gzip_whose_check_fails_is_refused_not_replayed_as_whole(tmp_path: Path) -> None:
    """The CRC-32 of the decompressed data (the trailer's first 4 bytes, RFC 1952 section
    2.3.1) wrong by one bit: every line decodes, yet the data is not what was written. The
    reader says so, naming the line after the events it played, and the run does not pass
    for a whole one."""
    data = bytearray(SHIPPED_REPLAY.read_bytes())
    data[-8] ^= 0x01
    bad = tmp_path / "damaged.jsonl.gz"
    bad.write_bytes(bytes(data))
    _, events = iter_replay(bad)
    played = 0
    with pytest.raises(ReplayError) as info:
        for _ in events:
            played += 1
    assert 30_000 < played < 33_879
    assert str(info.value) == (
        f"{bad}:{played + 2}: cannot read: damaged gzip data: Error -3 while decompressing "
        f"data: incorrect data check (after line {played + 1})"
    )
