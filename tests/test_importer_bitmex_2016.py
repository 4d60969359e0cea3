"""`arbtui import` of the verbatim BitMEX `/funding` download, which starts on 2016-05-14 with
daily settlements (12:00 UTC) until 2016-06-04 and 8-hourly ones after: no year floor other
than Bitcoin's first day, the interval taken per record, ``--start``/``--end`` trimming."""

from __future__ import annotations

import argparse
import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from core.domain.config import load_config
from core.domain.events import FundingRate, FundingSettled, decode
from tests.conftest import DATA, HISTORY_CONFIG
from tui.commands import import_

FILE = DATA / "bitmex_XBTUSD_funding_2016-05-14_2016-06-06.csv"
HOUR_MS = 3_600_000


def run(tmp_path: Path, *extra: str) -> list[object]:
    out = tmp_path / "bitmex_2016.jsonl.gz"
    parser = argparse.ArgumentParser()
    import_.add_arguments(parser)
    args = parser.parse_args([str(FILE), *extra, "--out", str(out)])
    specs = list(load_config(HISTORY_CONFIG).instruments.values())
    assert import_.run(args, specs) == 0
    return [decode(line) for line in gzip.decompress(out.read_bytes()).splitlines()[1:]]


def test_the_whole_download_imports_from_its_first_settlement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = run(tmp_path)
    settled = [ev for ev in events if isinstance(ev, FundingSettled)]
    assert len(settled) == 29
    first = settled[0]
    assert (first.ts_ms, first.rate, first.interval_ms) == (
        1463227200000,  # 2016-05-14T12:00:00Z
        Decimal("0.00069"),
        24 * HOUR_MS,
    )
    intervals = [ev.interval_ms // HOUR_MS for ev in settled]
    assert intervals == [24] * 22 + [8] * 7  # daily until 2016-06-04T12:00, then 8 h
    assert "29 rows -> 58 events" in capsys.readouterr().out


def test_start_and_end_trim_the_2016_window(tmp_path: Path) -> None:
    events = run(tmp_path, "--start", "2016-06-04", "--end", "2016-06-05T12:00")
    settled = [
        (ev.ts_ms, ev.interval_ms // HOUR_MS) for ev in events if isinstance(ev, FundingSettled)
    ]
    assert settled == [
        (1465041600000, 24),  # 2016-06-04T12:00Z, the last daily settlement
        (1465070400000, 8),  # 2016-06-04T20:00Z
        (1465099200000, 8),  # 2016-06-05T04:00Z
    ]
    ahead = [ev for ev in events if isinstance(ev, FundingRate)]
    assert all(ev.fixed for ev in ahead)
