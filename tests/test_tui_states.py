"""Pilot tests of the console's honest states (issue 13, items 4-6): the banner for what needs
the operator now, a replay that stops on a bad line, keys that have nothing to act on, planned
ladder sizes, and the pair row's distance to an entry.

Every test runs the real :class:`core.runtime.host.EngineHost` on a shipped replay (or on a
copy of it with one line broken, or cut short); nothing is mocked.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from textual.widgets import Static

from core.domain.commands import Arm, ExportAudit, Flatten
from core.domain.config import Settings, load_config
from core.engine.engine import Engine
from core.observe.audit.recorder import AuditRecorder
from core.runtime.export import export_audit
from tests.conftest import HISTORY_CONFIG, ROOT
from tui.app import ArbConsole
from tui.modals import ConfirmModal
from tui.testing import RecordingHost, eventually, wait_until
from tui.widgets import Banner, FundingPanel, LaddersPanel, StatusLine
from tui.widgets.funding import flat_status

REPLAY = ROOT / "replays" / "btc_2020-03.jsonl.gz"
DEFAULT_REPLAY = ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"
BEFORE_TRADES_TS_MS = 1583798400000  # 2020-03-10T00:00Z: flat, no trade yet
IN_POSITION_TS_MS = 1584079200000  # 2020-03-13T06:00Z: hedge open and laddered
DEFAULT_30H_TS_MS = 1709251200000 + 30 * 3_600_000  # 2024-03-02T06:00Z: flat, edge +0.07 %
BAD_LINE = 2001
"""The line of the broken copy that is not an event (the header is line 1)."""


def settings(*, auto_arm: bool = True) -> Settings:
    s = load_config(HISTORY_CONFIG)
    return msgspec.structs.replace(s, replay=msgspec.structs.replace(s.replay, auto_arm=auto_arm))


def broken_copy(path: Path) -> Path:
    """The March 2020 replay with line :data:`BAD_LINE` replaced by a line that is not JSON."""
    lines = gzip.open(REPLAY).read().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[: BAD_LINE - 1], b'{"type": "bar", "ts_ms"\n', *lines]))
    return path


def cut_copy(path: Path) -> Path:
    """The March 2020 replay's gzip cut in the middle (a download that stopped)."""
    data = REPLAY.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def hosts() -> Iterator[list[RecordingHost]]:
    made: list[RecordingHost] = []
    yield made
    for host in made:
        host.stop(timeout_s=2.0)


def start(hosts: list[RecordingHost], replay: Path, **kw: object) -> RecordingHost:
    s = kw.pop("settings", None) or settings()
    host = RecordingHost.for_replay(s, replay, **kw)  # type: ignore[arg-type]
    hosts.append(host)
    host.start()
    return host


def status_text(app: ArbConsole) -> str:
    return str(app.query_one(StatusLine).render())


def banner_text(app: ArbConsole) -> str:
    return str(app.query_one(Banner).render())


@pytest.mark.parametrize("make", [broken_copy, cut_copy], ids=["corrupt-line", "cut-gzip"])
async def test_a_replay_that_stops_on_a_bad_line_says_where_and_stops_the_engine(
    hosts: list[RecordingHost], tmp_path: Path, make: object
) -> None:
    replay = make(tmp_path / ("bad.jsonl" if make is broken_copy else "cut.jsonl.gz"))  # type: ignore[operator]
    host = start(hosts, replay, speed=None)
    app = ArbConsole(host, settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(
            pilot, lambda: app.snapshot is not None and app.snapshot.replay.failed, 20, "failed"
        )
        await pilot.pause(0.2)
        failed = app.snapshot.replay.failed
        where = f"replay failed at {replay}:"
        assert failed.startswith(where)
        if make is broken_copy:
            assert failed.startswith(f"{where}{BAD_LINE}: ")
        else:
            assert "Compressed file ended before the end-of-stream marker" in failed
        assert app.query_one(Banner).display
        assert [a.kind for a in app.snapshot.alarms] == ["replay"]
        assert failed in banner_text(app)
        assert " FAILED " in status_text(app) and where in status_text(app)
        assert " HALTED " in status_text(app)  # the engine is visibly stopped
        assert " done " not in status_text(app)
        assert app.snapshot.risk.trading_state == "HALTED"
        assert host.exit_code == 2  # the process exits 2 after quit
        await pilot.press("q")
        if make is cut_copy:  # its readable half played: a position is open, quit asks first
            await eventually(pilot, lambda: isinstance(app.screen, ConfirmModal), what="asks")
            message = str(app.screen.query_one("#confirm-message", Static).render())
            assert message == (
                "Quit anyway? The engine stops; the replay's simulated positions are dropped."
            )  # a replay holds nothing at any venue
            await pilot.press("y")
        await eventually(pilot, lambda: app.stop_requested, what="quit")
    # tui/console.py run_console returns ``app.return_code or host.exit_code``
    assert app.return_code == 0 and host.exit_code == 2


async def test_the_kill_switch_raises_the_halted_banner_with_its_reason(
    hosts: list[RecordingHost],
) -> None:
    host = start(hosts, REPLAY, pause_at_ts_ms=IN_POSITION_TS_MS)
    wait_until(lambda: host.snapshot().replay.paused)
    app = ArbConsole(host, settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        assert not app.query_one(Banner).display  # nothing to say: no row taken
        await pilot.press("ctrl+k", "y")
        await eventually(pilot, lambda: app.query_one(Banner).display, what="banner")
        assert [a.kind for a in app.snapshot.alarms] == ["halted"]
        text = banner_text(app)
        assert "HALTED" in text and "kill switch" in text and "re-arm (a)" in text
        await pilot.press("a")  # re-armed after review: the banner goes
        await eventually(pilot, lambda: not app.query_one(Banner).display, what="banner gone")


async def test_f_with_nothing_open_says_so_and_stays_in_its_state(
    hosts: list[RecordingHost],
) -> None:
    host = start(hosts, REPLAY, pause_at_ts_ms=BEFORE_TRADES_TS_MS)
    wait_until(lambda: host.snapshot().replay.paused)
    app = ArbConsole(host, settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        assert not app.snapshot.exposure_open
        await pilot.press("f")
        await eventually(pilot, lambda: list(app._notifications), what="a notice")
        notes = [n.message for n in app._notifications]
        assert notes == ["Nothing open to flatten (state stays ARMED)."]
        assert len(app.screen_stack) == 1  # no question asked
        assert host.commands_of(Flatten) == []
        assert host.snapshot().risk.trading_state == "ARMED"


async def test_a_when_already_armed_says_so_and_sends_nothing(
    hosts: list[RecordingHost],
) -> None:
    host = start(hosts, REPLAY, pause_at_ts_ms=BEFORE_TRADES_TS_MS)
    wait_until(lambda: host.snapshot().replay.paused)
    app = ArbConsole(host, settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        await pilot.press("a")
        await eventually(pilot, lambda: list(app._notifications), what="a notice")
        assert [n.message for n in app._notifications] == [
            "Already ARMED: the strategy may open and add."
        ]
        assert host.commands_of(Arm) == []


async def test_pending_ladder_levels_show_their_planned_size(
    hosts: list[RecordingHost],
) -> None:
    """The short Binance leg holds 4.224 BTC (its entry and the hedges): at level 1's trigger
    (6,167.27) that is 26,049.55 USD, so the leg's 50,000 USD cap leaves room for level 1's
    10,000 (1.621 BTC); 5.845 BTC at level 2's 6,346.90 are 37,097.62, leaving 12,902.38
    (2.032 BTC) of its 15,000; at level 3 (6,586.40) 7.877 BTC are over the cap: levels 3 and
    4 are never placed and say so ("over cap", not "pending")."""
    host = start(hosts, REPLAY, pause_at_ts_ms=IN_POSITION_TS_MS)
    wait_until(lambda: host.snapshot().replay.paused)
    snap = host.snapshot()
    pending = [lv for lv in snap.ladders if lv.status == "pending"]
    assert pending and all(lv.planned and lv.size and lv.size_usd for lv in pending)
    base = float(settings().sizing.base_notional_usd)
    multipliers = settings().ladder.multipliers
    binance = [lv for lv in snap.ladders if lv.venue == "binance"]
    assert [(lv.index, lv.status, lv.size) for lv in binance] == [
        (0, "filled", Decimal("0.420")),
        (1, "pending", Decimal("1.621")),
        (2, "pending", Decimal("2.032")),
        (3, "over cap", None),
        (4, "over cap", None),
    ]
    assert [lv.size_usd for lv in pending] == [10_000.0, pytest.approx(12_902.378852)]
    assert all(not lv.planned for lv in snap.ladders if lv.status == "filled")
    app = ArbConsole(host, settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        table = app.query_one("#ladders", LaddersPanel).query_one("#ladders-table")
        lv = pending[0]
        row = table.get_row(f"{lv.venue}:{lv.symbol}:{lv.index}")
        assert str(row[5]).startswith("~") and str(row[6]).startswith("~")
        assert str(row[6]) == f"~{base * multipliers[lv.index]:,.0f}"


async def test_a_flat_pair_shows_its_distance_to_an_entry(hosts: list[RecordingHost]) -> None:
    """30 hours into the default replay: flat, the edge 0.53 points short of the entry's
    0.6 %, and the three observations an entry needs still to come."""
    s = load_config(ROOT / "config.toml")
    host = start(hosts, DEFAULT_REPLAY, settings=s, pause_at_ts_ms=DEFAULT_30H_TS_MS)
    wait_until(lambda: host.snapshot().replay.paused)
    pair = host.snapshot().pairs[0]
    assert pair.status == "flat" and pair.edge_pct is not None
    assert pair.entry_edge_pct == s.strategy.entry_edge_pct == 0.6
    assert pair.observations_left == s.strategy.observations == 3
    gap = pair.entry_edge_pct - pair.edge_pct
    assert round(gap, 2) == 0.53
    app = ArbConsole(host, s)
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        table = app.query_one(FundingPanel).query_one("#funding-pairs")
        shown = str(table.get_row(pair.name)[-1])
        assert shown == flat_status(pair) == "need +0.53%, 3 obs"


def test_the_default_replay_speed_shows_the_first_entry_within_30_seconds() -> None:
    """At the shipped config's replay speed, the first fill of the shipped default replay
    comes within 30 wall seconds of the start (item 6: the first minute)."""
    from core.analysis.replay import iter_replay
    from core.runtime.drive import Drive

    s = load_config(ROOT / "config.toml")
    header, events = iter_replay(DEFAULT_REPLAY)
    drive = Drive.replay(s, events, header=header, observers=False)
    drive.run()
    first_fill = next(e.ts_ms for e in drive.engine.log if e.kind == "fill")
    wall_s = (first_fill - header.start_ts_ms) / 1000 / s.replay.speed
    assert wall_s <= 30, f"first entry after {wall_s:.0f} s at {s.replay.speed:.0f}x"


def test_exported_1_row_is_singular(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    engine = Engine(settings(), mode="replay")
    audit = AuditRecorder.for_engine(engine, tmp_path / "audit.db", "one-row")
    said: list[tuple[str, bool]] = []
    try:
        rows = audit.export_session(tmp_path / "probe.csv", "csv")
        export_audit(audit, ExportAudit(done=lambda m, ok: said.append((m, ok))))
    finally:
        audit.close()
    assert rows == 1
    assert said[0][1] and said[0][0].startswith("Exported 1 row to ")


async def test_paper_with_venues_unreachable_says_connecting_with_the_attempt_and_error() -> None:
    from core.runtime.paper_session import build_paper_session
    from tests.fake_exchange.exchanges import FAST
    from tests.test_cli_states import closed_port

    url = f"127.0.0.1:{closed_port()}"
    base = load_config(ROOT / "config.toml")
    feeds = msgspec.structs.replace(
        base.feeds,
        binance_ws_url=f"ws://{url}",
        binance_rest_url=f"http://{url}",
        bybit_ws_url=f"ws://{url}",
        bybit_rest_url=f"http://{url}",
        **{k: v for k, v in FAST.items() if hasattr(base.feeds, k)},
    )
    session = build_paper_session(msgspec.structs.replace(base, feeds=feeds))
    host = session.host
    host.start()
    app = ArbConsole(host, session.settings)
    try:
        async with app.run_test(size=(120, 40)) as pilot:

            def connecting() -> bool:
                snap = app.snapshot
                return snap is not None and any(
                    a.kind == "connecting" and "attempt 2" in a.text for a in snap.alarms
                )

            await eventually(pilot, connecting, 10, "connecting with attempts")
            await pilot.pause(0.2)
            text = banner_text(app)
            for venue in ("binance", "bybit"):
                assert f"connecting to {venue} (attempt " in text
            assert text.count("last error ") == 2  # the latest, whichever call failed last
            status = status_text(app)
            assert "waiting for data" in status and "1970" not in status
            assert app.snapshot.risk.equity_usd == 200_000.0  # the configured capital
    finally:
        host.stop()


async def test_the_banner_shows_a_mismatch_and_stale_data_until_they_are_over(
    hosts: list[RecordingHost],
) -> None:
    """A venue holding another size (until the operator arms again) and a market going stale
    (until its data comes back): one banner line each, most urgent first."""
    from decimal import Decimal

    from core.domain.records import PositionMismatch

    host = start(hosts, REPLAY, pause_at_ts_ms=IN_POSITION_TS_MS)
    wait_until(lambda: host.snapshot().replay.paused)
    app = ArbConsole(host, settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        assert not app.query_one(Banner).display
        host.attention.record(
            PositionMismatch(host.engine.now, "bitmex", "XBTUSD", Decimal(20400), Decimal(0),
                             "REST read", "rehedge")
        )  # fmt: skip
        host.engine.set_stale_venues({"binance"})
        await pilot.press("p")  # a command: the host publishes at once
        await eventually(pilot, lambda: len(app.snapshot.alarms) == 2, what="two alarms")
        await pilot.pause(0.2)
        assert [a.kind for a in app.snapshot.alarms] == ["mismatch", "stale"]
        text = banner_text(app)
        assert "MISMATCH" in text and "position mismatch bitmex XBTUSD" in text
        assert "STALE DATA" in text and "binance market data stale" in text
        banner = app.query_one(Banner)
        assert banner.region.y == 1  # right under the status line, which stays on screen
        assert " PAUSED " in status_text(app)
        host.engine.set_stale_venues(set())
        await pilot.press("a")  # reviewed: arming clears the mismatch
        await eventually(pilot, lambda: not app.query_one(Banner).display, what="banner gone")
