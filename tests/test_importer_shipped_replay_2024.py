"""The shipped replay replays/btc_binance_bybit_2024-03.jsonl.gz holds what replays/README.md
says, and `arbtui import` rebuilds it byte for byte from the copies in tests/data."""

from __future__ import annotations

import argparse
import gzip
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from core.domain.events import Bar, Event, FundingSettled, ReplayHeader, decode, sort_key
from tests.importer_files import DATA, HOUR_MS, REPLAY_2024_INPUTS, SPECS_2024
from tui.commands import import_

REPLAY = Path(__file__).parent.parent / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"
START = 1709251200000  # 2024-03-01T00:00Z
END = 1711065600000  # 2024-03-22T00:00Z
T_0305_08 = 1709625600000  # 2024-03-05T08:00Z
LEGS = [("binance", "BTCUSDT"), ("bybit", "BTCUSDT"), ("bybit", "BTCUSD")]


def load(path: Path = REPLAY) -> tuple[ReplayHeader, list[Event]]:
    lines = gzip.decompress(path.read_bytes()).splitlines()
    header = decode(lines[0])
    assert isinstance(header, ReplayHeader)
    events: list[Event] = []
    for line in lines[1:]:
        ev = decode(line)
        assert not isinstance(ev, ReplayHeader)
        events.append(ev)
    return header, events


def test_it_has_63_bars_and_63_settlements_per_instrument_in_its_window() -> None:
    header, events = load()
    counts = Counter((type(ev).__name__, ev.venue, ev.symbol) for ev in events)
    assert counts == {(kind, *leg): 63 for kind in ("Bar", "FundingSettled") for leg in LEGS}
    assert header.events == len(events) == 378
    assert (header.start_ts_ms, header.end_ts_ms) == (START, END)
    assert header.instruments == SPECS_2024
    assert [(s.file, s.layout, s.venue, s.symbol, s.rows, s.events) for s in header.sources] == [
        (REPLAY_2024_INPUTS[0], "binance_funding_vision", "binance", "BTCUSDT", 63, 63),
        (REPLAY_2024_INPUTS[1], "bybit_funding_aha", "bybit", "BTCUSDT", 63, 63),
        (REPLAY_2024_INPUTS[2], "bybit_funding_aha", "bybit", "BTCUSD", 63, 63),
        (REPLAY_2024_INPUTS[3], "binance_bars_aha", "binance", "BTCUSDT", 63, 63),
        (REPLAY_2024_INPUTS[4], "bybit_bars_aha", "bybit", "BTCUSDT", 63, 63),
        (REPLAY_2024_INPUTS[5], "bybit_bars_aha", "bybit", "BTCUSD", 63, 63),
    ]


def test_the_bybit_btcusd_leg_is_inverse_and_settles_in_btc() -> None:
    header, _ = load()
    spec = next(s for s in header.instruments if (s.venue, s.symbol) == ("bybit", "BTCUSD"))
    assert (spec.kind, spec.contract_size, spec.settle_currency) == ("inverse", Decimal(1), "BTC")


def test_first_and_last_events() -> None:
    _, events = load()
    keys = [sort_key(ev) for ev in events]
    assert keys == sorted(keys)
    first = events[:3]
    assert all(isinstance(ev, FundingSettled) and ev.ts_ms == START for ev in first)
    assert [(ev.venue, ev.symbol, getattr(ev, "rate", None)) for ev in first] == [
        ("binance", "BTCUSDT", Decimal("0.00053322")),
        ("bybit", "BTCUSD", Decimal("0.00042548")),
        ("bybit", "BTCUSDT", Decimal("0.0003927")),
    ]
    # the first bars to close are Bybit's, labelled 2024-03-01T00:00Z (open 2024-02-29T20:00Z)
    bar = events[3]
    assert isinstance(bar, Bar) and (bar.venue, bar.symbol) == ("bybit", "BTCUSD")
    assert (bar.open_ts_ms, bar.ts_ms, bar.close) == (1709236800000, 1709265599999, 61208.5)
    last = events[-1]
    assert isinstance(last, Bar) and (last.venue, last.symbol) == ("binance", "BTCUSDT")
    assert (last.open_ts_ms, last.ts_ms, last.close) == (1711036800000, END - 1, 65539.9)
    last_bybit = max(ev.ts_ms for ev in events if isinstance(ev, Bar) and ev.venue == "bybit")
    assert last_bybit == 1711051199999  # 2024-03-21T19:59:59.999Z: label 16:00 + 4 h


def test_funding_settles_at_00_08_16_every_8h_and_sums_as_the_readme_says() -> None:
    _, events = load()
    funding = [ev for ev in events if isinstance(ev, FundingSettled)]
    assert {ev.ts_ms // HOUR_MS % 24 for ev in funding} == {0, 8, 16}
    assert {ev.interval_ms for ev in funding} == {8 * HOUR_MS}
    sums = {leg: sum(ev.rate for ev in funding if (ev.venue, ev.symbol) == leg) for leg in LEGS}
    assert sums == {
        ("binance", "BTCUSDT"): Decimal("0.02434367"),
        ("bybit", "BTCUSDT"): Decimal("0.02351603"),
        ("bybit", "BTCUSD"): Decimal("0.02524991"),
    }
    highs = {leg: max(ev.rate for ev in funding if (ev.venue, ev.symbol) == leg) for leg in LEGS}
    assert highs == {
        ("binance", "BTCUSDT"): Decimal("0.00088148"),
        ("bybit", "BTCUSDT"): Decimal("0.00112788"),
        ("bybit", "BTCUSD"): Decimal("0.00141038"),
    }


def test_the_bybit_settlement_of_5_march_08h_and_the_close_known_then() -> None:
    """Source rows: bybit_linear_BTCUSDT_funding_8h_...csv line 15 (0.00112788) and
    bybit_linear_BTCUSDT_8h_...csv line 14 (labelled 2024-03-05T00:00Z, close 68223.2);
    line 15's bar (labelled 08:00Z, close 66753.4) closes at 11:59:59.999Z."""
    _, events = load()
    i = next(
        i
        for i, ev in enumerate(events)
        if isinstance(ev, FundingSettled)
        and (ev.venue, ev.symbol, ev.ts_ms) == ("bybit", "BTCUSDT", T_0305_08)
    )
    settlement = events[i]
    assert isinstance(settlement, FundingSettled)
    assert settlement.rate == Decimal("0.00112788") and settlement.raw_rate == "0.00112788"
    known = [
        ev
        for ev in events[:i]
        if isinstance(ev, Bar) and (ev.venue, ev.symbol) == ("bybit", "BTCUSDT")
    ]
    assert (known[-1].ts_ms, known[-1].close) == (T_0305_08 - 4 * HOUR_MS - 1, 68223.2)
    later = next(
        ev
        for ev in events
        if isinstance(ev, Bar)
        and (ev.venue, ev.symbol, ev.open_ts_ms) == ("bybit", "BTCUSDT", T_0305_08 - 4 * HOUR_MS)
    )
    assert (later.ts_ms, later.close) == (T_0305_08 + 4 * HOUR_MS - 1, 66753.4)


def test_arbtui_import_rebuilds_it_byte_for_byte_from_the_test_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, _ = load()
    out = tmp_path / REPLAY.name
    parser = argparse.ArgumentParser()
    import_.add_arguments(parser)
    args = parser.parse_args(
        [
            *(str(DATA / name) for name in REPLAY_2024_INPUTS),
            "--start",
            "2024-03-01T00:00Z",
            "--end",
            "2024-03-22T00:00Z",
            "--out",
            str(out),
        ]
    )
    assert import_.run(args, list(header.instruments)) == 0
    assert out.read_bytes() == REPLAY.read_bytes()
    assert "total: 378 events (bar 189, funding 189)" in capsys.readouterr().out
