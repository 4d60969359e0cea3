"""The shipped replay replays/btc_2020-03.jsonl.gz holds what its README says it holds."""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import msgspec

from core.analysis.importer.build import write_replay
from core.domain.events import (
    Bar,
    Event,
    FundingRate,
    FundingSettled,
    InstrumentSpec,
    ReplayHeader,
    decode,
    encode,
    sort_key,
)

REPLAY = Path(__file__).parent.parent / "replays" / "btc_2020-03.jsonl.gz"
SPECS = msgspec.json.decode(
    (Path(__file__).parent / "data" / "instruments_btc.json").read_bytes(),
    type=list[InstrumentSpec],
)
START = 1583020800000  # 2020-03-01T00:00Z
END = 1585008000000  # 2020-03-24T00:00Z
HOUR_MS = 3_600_000


def load() -> tuple[ReplayHeader, list[Event]]:
    lines = gzip.decompress(REPLAY.read_bytes()).splitlines()
    header = decode(lines[0])
    assert isinstance(header, ReplayHeader)
    events: list[Event] = []
    for line in lines[1:]:
        ev = decode(line)
        assert not isinstance(ev, ReplayHeader)
        events.append(ev)
    return header, events


def test_the_shipped_replay_has_the_expected_events_per_type_and_venue() -> None:
    header, events = load()
    counts = Counter((type(ev).__name__, ev.venue) for ev in events)
    assert counts == {
        ("Bar", "binance"): 23 * 24,
        ("Bar", "bitmex"): 23 * 24 * 60,
        ("FundingSettled", "binance"): 23 * 3,
        ("FundingSettled", "bitmex"): 23 * 3,
        ("FundingRate", "bitmex"): 23 * 3,
    }
    assert header.events == len(events) == 33879
    assert (header.start_ts_ms, header.end_ts_ms) == (START, END)
    assert header.instruments == SPECS[:2]
    assert [s.file for s in header.sources] == [
        "binance_um_BTCUSDT_fundingRate_2020-03_api.csv",
        "bitmex_XBTUSD_funding_2020-01_2020-04.csv",
        "binance_um_BTCUSDT_1h_2020-03-01_2020-03-24.csv",
        "bitmex_XBTUSD_1m_2020-03-01_2020-03-24.csv",
    ]


def test_the_shipped_replay_is_in_time_order_inside_its_window() -> None:
    _, events = load()
    keys = [sort_key(ev) for ev in events]
    assert keys == sorted(keys)
    assert events[0].ts_ms == START and events[-1].ts_ms == END - 1


def test_the_shipped_replay_settles_binance_at_00_08_16_and_bitmex_at_04_12_20_utc() -> None:
    _, events = load()
    hours: dict[str, set[int]] = {}
    for ev in events:
        if isinstance(ev, FundingSettled):
            assert ev.ts_ms % HOUR_MS == 0 and ev.interval_ms == 8 * HOUR_MS
            hours.setdefault(ev.venue, set()).add(ev.ts_ms // HOUR_MS % 24)
    assert hours == {"binance": {0, 8, 16}, "bitmex": {4, 12, 20}}


def test_the_shipped_replay_holds_the_crash_funding_and_its_sums() -> None:
    _, events = load()
    bitmex = [ev for ev in events if isinstance(ev, FundingSettled) and ev.venue == "bitmex"]
    binance = [ev for ev in events if isinstance(ev, FundingSettled) and ev.venue == "binance"]
    at_cap = [ev.raw_ts for ev in bitmex if ev.rate == Decimal("-0.00375")]
    assert at_cap == [f"2020-03-{d}T{h}:00:00Z" for d in (13, 14) for h in ("04", "12", "20")]
    assert sum(ev.rate for ev in bitmex) == Decimal("-0.039891")
    assert sum(ev.rate for ev in binance) == Decimal("-0.00319747")
    assert min(ev.rate for ev in binance) == Decimal("-0.00300000")
    fixed = [ev for ev in events if isinstance(ev, FundingRate)]
    assert all(ev.fixed and ev.settlement_ts_ms - ev.ts_ms == 8 * HOUR_MS for ev in fixed)


def test_the_shipped_replay_has_the_bitmex_overload_bar_of_12_march() -> None:
    _, events = load()
    bars = {(ev.venue, ev.open_ts_ms): ev for ev in events if isinstance(ev, Bar)}
    crash = bars[("binance", 1584054000000)]  # 2020-03-12T23:00Z
    assert (crash.open, crash.low, crash.close) == (5797.56, 4347.0, 4764.65)
    last_minute = bars[("bitmex", 1584057540000)]
    assert last_minute.close == 4346.0


def test_the_importers_writer_gives_the_shipped_bytes_back(tmp_path: Path) -> None:
    """A rebuild writes what the shipped file holds, byte for byte (replays/README.md): the
    null ``settlement_ts_ms`` of replay settlements is not written (it once was, and changed
    the hash), while a live feed's late settlement keeps its instant."""
    header, events = load()
    out = tmp_path / REPLAY.name
    write_replay(out, header, events)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == (
        "9a175606269e17667f5b974ee00b245e74c02f2d2b692ae0420787f406c4c5c3"
    )
    settled = next(ev for ev in events if isinstance(ev, FundingSettled))
    assert b"settlement_ts_ms" not in encode(settled)
    late = msgspec.structs.replace(settled, ts_ms=settled.ts_ms + 1_500)
    late = msgspec.structs.replace(late, settlement_ts_ms=settled.ts_ms)
    assert encode(late).endswith(b',"settlement_ts_ms":1583020800000}')
    assert decode(encode(late)) == late
