"""Replay readers refuse the values ``arbtui import`` refuses (a funding rate beyond the venue's
cap or not a rate at all, a ``ts_ms`` or ``settlement_ts_ms`` outside 2009..2040:
microseconds, seconds, the year 2100), naming the file, the line (the event row of a columnar
file) and the field; and an instrument the config does not name is said once, with its number
of events.

Every bad file is the shipped 2024 replay (``replays/btc_binance_bybit_2024-03.jsonl.gz``,
line 1 its header) with one line changed. Line 10 is the Bybit BTCUSDT settlement of
2024-03-01T08:00Z; line 11 the Bybit BTCUSD bar after it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import msgspec
import pytest

from core.analysis.replay import ReplayError, iter_replay, load_replay
from core.domain.config import load_config
from core.domain.events import Event
from core.runtime.headless import run_replay
from core.venues.history import funding_caps
from tests.conftest import ROOT, SHIPPED_REPLAY
from tui.cli import main

REPLAY_2024 = ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"
CONFIG_2024 = ROOT / "config.toml"
RANGE = "is outside the sane range 2009-01-03T00:00:00.000Z .. 2040-01-01T00:00:00.000Z"
BINANCE_CAP = (
    "cap of +-0.003 per 8 h settlement (GET /fapi/v1/fundingInfo adjustedFundingRateCap "
    "0.00300 / Floor -0.00300 (2026 capture); March 2020 touched the -0.30 % floor (shared "
    "data README)): a rate written in percent without its % sign?"
)


def with_line(tmp_path: Path, line: int, old: bytes, new: bytes, name: str = "bad.jsonl") -> Path:
    """The shipped 2024 replay, decompressed, with ``old`` replaced by ``new`` on ``line``."""
    lines = gzip.decompress(REPLAY_2024.read_bytes()).splitlines(keepends=True)
    assert old in lines[line - 1], lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    out = tmp_path / name
    out.write_bytes(b"".join(lines))
    return out


def read_error(path: Path) -> str:
    _, events = iter_replay(path, funding_caps())
    with pytest.raises(ReplayError) as err:
        list(events)
    return str(err.value)


def test_the_shipped_replays_pass_every_check() -> None:
    for path in (REPLAY_2024, SHIPPED_REPLAY):
        header, events = load_replay(path, funding_caps())
        assert len(events) == header.events


# ------------------------------------------------------------------ funding rates
def test_a_rate_of_5_is_no_funding_rate(tmp_path: Path) -> None:
    bad = with_line(tmp_path, 2, b'"rate":"0.00053322"', b'"rate":"5"')
    assert read_error(bad) == f"{bad}:2: field rate: '5' is not a plausible funding rate"


def test_a_rate_beyond_the_venue_cap_names_the_cap(tmp_path: Path) -> None:
    """0.05 is 5 %: within |rate| < 1, beyond Binance's 0.3 % cap on BTCUSDT."""
    bad = with_line(tmp_path, 2, b'"rate":"0.00053322"', b'"rate":"0.05"')
    assert read_error(bad) == (
        f"{bad}:2: field rate: rate 0.05 is beyond the binance BTCUSDT {BINANCE_CAP}"
    )


def test_a_fixed_rate_beyond_the_bitmex_cap_is_refused(tmp_path: Path) -> None:
    """A FundingRate line (BitMEX's fixed rate, the 2020 replay's line 248)."""
    lines = gzip.decompress(SHIPPED_REPLAY.read_bytes()).splitlines(keepends=True)
    assert lines[247].startswith(b'{"type":"funding_rate"') and b'"rate":"0.0001"' in lines[247]
    lines[247] = lines[247].replace(b'"rate":"0.0001"', b'"rate":"-0.0375"')
    bad = tmp_path / "fixed.jsonl"
    bad.write_bytes(b"".join(lines))
    assert read_error(bad) == (
        f"{bad}:248: field rate: rate -0.0375 is beyond the bitmex XBTUSD cap of +-0.00375 "
        "per 8 h settlement (March 2020: six settlements in a row at -0.375 %, its cap (shared "
        "data README); a daily settlement of May 2016 reached 0.7046 %, within three times it "
        "(tests/data)): a rate written in percent without its % sign?"
    )


def test_a_rate_of_5_fails_the_headless_run_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = with_line(tmp_path, 2, b'"rate":"0.00053322"', b'"rate":"5"')
    code = main(["--config", str(CONFIG_2024), "--replay", str(bad), "--headless"])
    assert code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"arbtui: {bad}:2: field rate: '5' is not a plausible funding rate"
    )


def test_without_caps_the_plausibility_check_still_runs(tmp_path: Path) -> None:
    bad = with_line(tmp_path, 2, b'"rate":"0.00053322"', b'"rate":"-1.5"')
    _, events = iter_replay(bad)
    with pytest.raises(ReplayError) as err:
        list(events)
    assert str(err.value) == f"{bad}:2: field rate: '-1.5' is not a plausible funding rate"


# ------------------------------------------------------------------ timestamps (HAZARDS H3)
@pytest.mark.parametrize(
    ("ts", "why"),
    [
        (
            b"1709280000000000",
            f"1709280000000000 ms (far outside any calendar) {RANGE}: looks like microseconds "
            "(2024-03-01T08:00:00.000Z)",
        ),
        (
            b"1709280000",
            f"1709280000 ms (1970-01-20T18:48:00.000Z) {RANGE}: looks like seconds "
            "(2024-03-01T08:00:00.000Z)",
        ),
        (b"4133404800000", f"4133404800000 ms (2100-12-25T08:00:00.000Z) {RANGE}"),
    ],
    ids=["microseconds", "seconds", "year-2100"],
)
def test_a_timestamp_out_of_range_is_refused_on_its_own_line(
    tmp_path: Path, ts: bytes, why: str
) -> None:
    """Not ``line 11: event out of time order`` (the line after it, the wrong reason)."""
    bad = with_line(tmp_path, 10, b'"ts_ms":1709280000000', b'"ts_ms":' + ts)
    assert read_error(bad) == f"{bad}:10: field ts_ms: {why}"


def test_the_last_line_in_the_year_2100_is_refused(tmp_path: Path) -> None:
    """No line after it to fall out of order: the block's range check alone finds it."""
    n = len(gzip.decompress(REPLAY_2024.read_bytes()).splitlines())
    bad = with_line(tmp_path, n, b'"ts_ms":1711065599999', b'"ts_ms":4133404800000')
    assert read_error(bad) == (
        f"{bad}:{n}: field ts_ms: 4133404800000 ms (2100-12-25T08:00:00.000Z) {RANGE}"
    )


def test_a_settlement_instant_in_seconds_is_refused_on_its_line(tmp_path: Path) -> None:
    """BitMEX's fixed rate on the 2020 replay's line 248 is for its 12:00 settlement of
    2020-03-01 (1583064000000 ms); written in seconds it would wait for a settlement in 1970
    that never comes. ``settlement_ts_ms`` gets the check ``ts_ms`` gets."""
    lines = gzip.decompress(SHIPPED_REPLAY.read_bytes()).splitlines(keepends=True)
    old = b'"settlement_ts_ms":1583064000000'
    assert lines[247].startswith(b'{"type":"funding_rate"') and old in lines[247]
    lines[247] = lines[247].replace(old, b'"settlement_ts_ms":1583064000')
    bad = tmp_path / "seconds.jsonl"
    bad.write_bytes(b"".join(lines))
    assert read_error(bad) == (
        f"{bad}:248: field settlement_ts_ms: 1583064000 ms (1970-01-19T07:44:24.000Z) {RANGE}: "
        "looks like seconds (2020-03-01T12:00:00.000Z)"
    )


def test_a_settled_instant_in_microseconds_is_refused_on_its_line(tmp_path: Path) -> None:
    """A settlement learnt after its instant carries it (``settlement_ts_ms``): line 10, the
    Bybit BTCUSDT settlement of 2024-03-01T08:00Z, given one in microseconds."""
    bad = with_line(
        tmp_path,
        10,
        b'"ts_ms":1709280000000,',
        b'"ts_ms":1709280000000,"settlement_ts_ms":1709280000000000,',
    )
    assert read_error(bad) == (
        f"{bad}:10: field settlement_ts_ms: 1709280000000000 ms (far outside any calendar) "
        f"{RANGE}: looks like microseconds (2024-03-01T08:00:00.000Z)"
    )


def test_a_line_out_of_order_is_still_said_so(tmp_path: Path) -> None:
    """An in-range time that falls is an order error, as before."""
    bad = with_line(tmp_path, 10, b'"ts_ms":1709280000000', b'"ts_ms":1709251200000')
    assert read_error(bad) == f"{bad}:10: event out of time order (ts_ms 1709251200000)"


# ------------------------------------------------------------------ instruments no pair trades
def test_an_instrument_the_config_does_not_name_is_said_once_with_its_count(
    tmp_path: Path,
) -> None:
    lines = gzip.decompress(REPLAY_2024.read_bytes()).splitlines(keepends=True)
    changed = [
        i for i, ln in enumerate(lines[1:], 1) if b'"venue":"binance","symbol":"BTCUSDT"' in ln
    ]
    for i in changed[:3]:  # the first three Binance BTCUSDT events (settlements and a bar)
        lines[i] = lines[i].replace(b'"symbol":"BTCUSDT"', b'"symbol":"ETHUSDT"')
    bad = tmp_path / "eth.jsonl"
    bad.write_bytes(b"".join(lines))
    report = run_replay(load_config(CONFIG_2024), bad)
    said = [a for a in report["alerts"] if "ETHUSDT" in a]
    assert said == [
        f"{bad}: events of binance ETHUSDT trade in no configured pair: ignored (3 events)"
    ]
    assert report["events"] == 378


def test_the_shipped_replay_names_no_instrument_outside_its_config() -> None:
    report = run_replay(load_config(CONFIG_2024), REPLAY_2024)
    assert not [a for a in report["alerts"] if "no configured pair" in a]


# ------------------------------------------------------------------ the columnar form
def arrow_with(tmp_path: Path, index: int, name: str, **change: object) -> Path:
    """The shipped 2024 replay as a columnar file, its event ``index`` (line ``index + 2``,
    event row ``index``) changed."""
    pytest.importorskip("pyarrow", reason="the columnar form needs the arrow extra (pyarrow)")
    from core.analysis.replay_arrow import write_arrow

    header, events = load_replay(REPLAY_2024)
    changed: list[Event] = list(events)
    changed[index] = msgspec.structs.replace(events[index], **change)
    return write_arrow(tmp_path / name, header, changed)


def test_a_columnar_timestamp_in_microseconds_names_its_row(tmp_path: Path) -> None:
    bad = arrow_with(tmp_path, 8, "us.arrow", ts_ms=1709280000000000)
    assert read_error(bad) == (
        f"{bad}: event row 8: field ts_ms: 1709280000000000 ms (far outside any calendar) "
        f"{RANGE}: looks like microseconds (2024-03-01T08:00:00.000Z)"
    )


def test_a_columnar_rate_beyond_the_cap_names_its_row(tmp_path: Path) -> None:
    from decimal import Decimal

    bad = arrow_with(tmp_path, 0, "cap.arrow", rate=Decimal("0.05"))
    assert read_error(bad) == (
        f"{bad}: event row 0: field rate: rate 0.05 is beyond the binance BTCUSDT {BINANCE_CAP}"
    )


def test_a_columnar_settlement_instant_in_seconds_names_its_row(tmp_path: Path) -> None:
    bad = arrow_with(tmp_path, 8, "settled.arrow", settlement_ts_ms=1709280000)
    assert read_error(bad) == (
        f"{bad}: event row 8: field settlement_ts_ms: 1709280000 ms (1970-01-20T18:48:00.000Z) "
        f"{RANGE}: looks like seconds (2024-03-01T08:00:00.000Z)"
    )


def test_a_columnar_rate_of_5_names_its_row(tmp_path: Path) -> None:
    from decimal import Decimal

    bad = arrow_with(tmp_path, 8, "five.arrow", rate=Decimal("5"))
    assert read_error(bad) == f"{bad}: event row 8: field rate: '5' is not a plausible funding rate"


def test_the_columnar_shipped_replay_reads_the_same_events(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="the columnar form needs the arrow extra (pyarrow)")
    from core.analysis.replay import convert_replay

    arrow = convert_replay(REPLAY_2024, tmp_path / "ok.arrow", funding_caps())
    _, from_json = load_replay(REPLAY_2024, funding_caps())
    _, from_arrow = load_replay(arrow, funding_caps())
    assert [json.loads(msgspec.json.encode(e)) for e in from_arrow] == [
        json.loads(msgspec.json.encode(e)) for e in from_json
    ]
