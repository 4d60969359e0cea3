"""Snapshot tests of the console's main screen at fixed points of the shipped replay.

The real :class:`core.runtime.host.EngineHost` replays ``replays/btc_2020-03.jsonl.gz`` as fast as
possible to a fixed instant and pauses there (``pause_at_ts_ms``), so every panel shows the
same data on every run; nothing on screen reads the wall clock. Sizes: 120x40 (the design
size) and 80x24 (the minimum usable). No widget on these screens has a blinking cursor
(tables hide theirs; there is no text input).

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
from tests.conftest import HISTORY_CONFIG
from tui.app import ArbConsole
from tui.modals import ConfirmModal
from tui.testing import eventually, wait_until

REPLAY = Path(__file__).resolve().parent.parent / "replays" / "btc_2020-03.jsonl.gz"

BEFORE_TRADES_TS_MS = 1583798400000  # 2020-03-10T00:00Z: watching, no trade yet
IN_POSITION_TS_MS = 1584079200000  # 2020-03-13T06:00Z: hedge open and laddered after the crash
AFTER_EXIT_TS_MS = 1584338400000  # 2020-03-16T06:00Z: the first hedge closed on 15 March

PausedApp = Callable[[int], ArbConsole]


@pytest.fixture
def paused_app() -> Iterator[PausedApp]:
    """A console on a real host that has replayed up to ``ts_ms`` and paused there."""
    hosts: list[EngineHost] = []

    def make(ts_ms: int) -> ArbConsole:
        settings = load_config(HISTORY_CONFIG)
        host = EngineHost.for_replay(settings, REPLAY, pause_at_ts_ms=ts_ms)
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
            await eventually(pilot, lambda: isinstance(app.screen, ConfirmModal))
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
    """The smallest supported terminal: the body scrolls, the footer keys stay visible."""
    app = paused_app(IN_POSITION_TS_MS)
    assert snap_compare(app, terminal_size=(80, 24), run_before=shown_paused())


def test_kill_confirmation_modal_120x40(snap_compare, paused_app: PausedApp) -> None:
    """ctrl+k over an open position: the red kill-switch confirmation."""
    app = paused_app(IN_POSITION_TS_MS)
    assert snap_compare(app, terminal_size=(120, 40), run_before=shown_paused("ctrl+k"))
