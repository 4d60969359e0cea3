"""Snapshot tests of the console's screens at fixed points of the shipped replays.

The real :class:`core.runtime.host.EngineHost` replays a shipped file as fast as possible to a
fixed instant and pauses there (``pause_at_ts_ms``), so every panel shows the same data on
every run; nothing on screen reads the wall clock. The default replay
(``replays/btc_binance_bybit_2024-03.jsonl.gz`` with ``config.toml``) is shown with a hedge
open and a ladder level filled at 80x24 (the smallest supported terminal: compact layout, no
scrolling), 100x30, 120x40 (the design size) and 160x50, plus its second view (ladders and
equity) and the help screen; the March 2020 BitMEX history at 120x40 and 80x24. No widget on
these screens has a blinking cursor (tables hide theirs; there is no text input).

Tests here are plain functions: ``snap_compare`` runs its own event loop. Update the SVGs
only with ``--snapshot-update`` on the full suite, after reading the report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from core.domain.config import load_config
from core.runtime.host import EngineHost
from tests.conftest import HISTORY_CONFIG, ROOT
from tui.app import ArbConsole
from tui.help import HelpScreen
from tui.modals import ConfirmModal
from tui.testing import eventually, wait_until
from tui.widgets import Banner

REPLAY = Path(__file__).resolve().parent.parent / "replays" / "btc_2020-03.jsonl.gz"
DEFAULT_REPLAY = ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"
DEFAULT_CONFIG = ROOT / "config.toml"
OPEN_2024_TS_MS = 1710871200000  # 2024-03-19T18:00Z: hedge open since 19 March

BEFORE_TRADES_TS_MS = 1583798400000  # 2020-03-10T00:00Z: watching, no trade yet
IN_POSITION_TS_MS = 1584079200000  # 2020-03-13T06:00Z: hedge open and laddered after the crash
AFTER_EXIT_TS_MS = 1584597600000  # 2020-03-19T06:00Z: the hedge closed on 18 March

PausedApp = Callable[..., ArbConsole]


@pytest.fixture
def paused_app() -> Iterator[PausedApp]:
    """A console on a real host that has replayed up to ``ts_ms`` and paused there."""
    hosts: list[EngineHost] = []

    def make(ts_ms: int, replay: Path = REPLAY, config: Path = HISTORY_CONFIG) -> ArbConsole:
        settings = load_config(config)
        host = EngineHost.for_replay(settings, replay, pause_at_ts_ms=ts_ms)
        hosts.append(host)
        host.start()
        wait_until(lambda: host.snapshot().replay.paused, what="replay paused")
        return ArbConsole(host, settings)

    yield make
    for host in hosts:
        host.stop(timeout_s=2.0)


def shown_paused(*then: str) -> Callable[[Pilot[int]], Awaitable[None]]:
    """``run_before``: wait until the app shows the paused snapshot, then press ``then``."""

    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, ArbConsole)
        await eventually(
            pilot,
            lambda: app.snapshot is not None and app.snapshot.replay.paused,
            what="paused snapshot on screen",
        )
        if then:
            await pilot.press(*then)
            if then[-1] == "ctrl+k":
                await eventually(pilot, lambda: app.kill_asked, what="kill question")
            elif then[-1] in ("question_mark", "f", "q"):
                await eventually(pilot, lambda: isinstance(app.screen, ConfirmModal | HelpScreen))
            elif then[-1] == "y":
                await eventually(pilot, lambda: app.query_one(Banner).display, what="banner")
        await pilot.pause()

    return run_before


@pytest.mark.parametrize(
    "ts_ms",
    [BEFORE_TRADES_TS_MS, IN_POSITION_TS_MS, AFTER_EXIT_TS_MS],
    ids=["before-any-trade", "open-after-12-march-crash", "after-exit"],
)
def test_main_screen_120x40(snap_compare, paused_app: PausedApp, ts_ms: int) -> None:
    """Every panel at the design size: funding, legs, ladders, drawdown, log, status line."""
    assert snap_compare(paused_app(ts_ms), terminal_size=(120, 40), run_before=shown_paused())


def test_main_screen_80x24_in_position(snap_compare, paused_app: PausedApp) -> None:
    """The smallest supported terminal: compact layout, nothing below the fold."""
    app = paused_app(IN_POSITION_TS_MS)
    assert snap_compare(app, terminal_size=(80, 24), run_before=shown_paused())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_kill_question_on_the_main_screen(
    snap_compare, paused_app: PausedApp, size: tuple[int, int]
) -> None:
    """ctrl+k over an open position: the red kill-switch question in place of the footer
    (no screen switch: the confirming key sends the Kill in its own handler)."""
    app = paused_app(IN_POSITION_TS_MS)
    assert snap_compare(app, terminal_size=size, run_before=shown_paused("ctrl+k"))


def size_id(size: tuple[int, int]) -> str:
    """``80x24`` for a (columns, rows) terminal size."""
    return f"{size[0]}x{size[1]}"


def default_app(paused_app: PausedApp) -> ArbConsole:
    """The console on the shipped default replay and config, paused with a hedge open."""
    return paused_app(OPEN_2024_TS_MS, DEFAULT_REPLAY, DEFAULT_CONFIG)


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (160, 50)], ids=size_id)
def test_default_replay_main_screen(
    snap_compare, paused_app: PausedApp, size: tuple[int, int]
) -> None:
    """Without scrolling at every size: state, the pair's spread per hour and APR and its
    status, each leg's size and uPnL in USD, drawdown against its limit, data health and the
    last log lines; ladders on the main view from 34 rows up."""
    app = default_app(paused_app)
    assert snap_compare(app, terminal_size=size, run_before=shown_paused())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=size_id)
def test_default_replay_ladders_and_equity_view(
    snap_compare, paused_app: PausedApp, size: tuple[int, int]
) -> None:
    """The second view (``2``): every ladder level and the equity curve with its drawdown."""
    app = default_app(paused_app)
    assert snap_compare(app, terminal_size=size, run_before=shown_paused("2"))


def test_help_screen_80x24(snap_compare, paused_app: PausedApp) -> None:
    """``?`` in replay mode: every key of the mode on one 80x24 screen."""
    app = default_app(paused_app)
    assert snap_compare(app, terminal_size=(80, 24), run_before=shown_paused("question_mark"))


SIZES = [(80, 24), (100, 30), (120, 40), (160, 50)]
BAD_LINE = 200
"""The line of the default replay's broken copy that is not an event."""


def broken_default(folder: Path) -> Path:
    """The default replay with line :data:`BAD_LINE` cut in the middle (a torn write)."""
    import gzip

    lines = gzip.open(DEFAULT_REPLAY).read().splitlines(keepends=True)
    out = folder / "broken.jsonl"
    out.write_bytes(b"".join([*lines[: BAD_LINE - 1], lines[BAD_LINE - 1][:40] + b"\n",
                              *lines[BAD_LINE:]]))  # fmt: skip
    return out


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_banner_replay_failed_on_a_bad_line(
    snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    """The default replay with a torn line 200: the banner and the status line say "replay
    failed at broken.jsonl:200: ...", the engine is HALTED, the data STOPPED."""
    monkeypatch.chdir(tmp_path)  # the file's name on screen is the one given: relative here
    broken_default(tmp_path)
    settings = load_config(DEFAULT_CONFIG)
    host = EngineHost.for_replay(settings, "broken.jsonl", speed=None)
    host.start()
    try:
        wait_until(lambda: host.snapshot().replay.failed, what="replay failed")
        app = ArbConsole(host, settings)

        async def run_before(pilot: Pilot[int]) -> None:
            await eventually(pilot, lambda: app.snapshot is not None and app.snapshot.replay.failed)
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        host.stop(timeout_s=2.0)


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_banner_halted_by_the_kill_switch(
    snap_compare, paused_app: PausedApp, size: tuple[int, int]
) -> None:
    """The default replay with a hedge open, then ctrl+k and y: flat, HALTED, and the banner
    saying why and how to go on."""
    app = default_app(paused_app)
    app.source = "operator@pts/0"  # who sent it, as the log shows it: the same on any machine
    assert snap_compare(app, terminal_size=size, run_before=shown_paused("ctrl+k", "y"))


@pytest.mark.parametrize("size", [(100, 30), (120, 40), (160, 50)], ids=size_id)
def test_help_screen(snap_compare, paused_app: PausedApp, size: tuple[int, int]) -> None:
    """``?`` in replay mode at the other sizes (80x24: :func:`test_help_screen_80x24`)."""
    app = default_app(paused_app)
    assert snap_compare(app, terminal_size=size, run_before=shown_paused("question_mark"))


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_charts_screen(snap_compare, paused_app: PausedApp, size: tuple[int, int]) -> None:
    """``3`` on the default replay, a hedge open: funding rates per hour of both legs and the
    spread with the entry and exit lines, equity, and drawdown against its limit; UTC times."""
    app = default_app(paused_app)
    assert snap_compare(app, terminal_size=size, run_before=shown_paused("3"))
