"""Every console key and the command palette in ``--paper`` and ``--live`` (issue 13, "Pilot
tests for every key and the palette in each mode"; replay mode: tests/test_tui_hotkeys.py and
tests/test_tui_help.py).

The console runs on the real session host that ``arbtui --paper`` / ``--live`` builds
(:func:`core.runtime.paper_session.build_paper_session`), its feeds on the fake public venues
and, in live, its orders on the fake private venues (tests/fake_exchange, tests/fake_venues:
the venues' real wire formats). The session starts with the pair open (both entry legs filled),
as :func:`tests.test_e2e_binance_bybit.start` leaves it; what each key does is read from the
engine's own snapshot and ledger, never from the console alone.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot

from core.runtime.paper_session import PaperSession
from tests.test_e2e_binance_bybit import LINEAR, Rig, _env, rig, start  # noqa: F401 (fixtures)
from tui.app import ArbConsole
from tui.help import HelpScreen
from tui.modals import ConfirmModal
from tui.testing import eventually

SIZE = (120, 40)
ZERO = Decimal(0)


def state(session: PaperSession) -> str:
    return session.host.snapshot().risk.trading_state


def exposure(session: PaperSession) -> tuple[Decimal, Decimal]:
    """The two legs' sizes in the ledger (each venue's unit)."""
    eng = session.engine
    (va, sa), (vb, sb) = eng.pairs[0].key_a, eng.pairs[0].key_b
    return eng.ledger.position(va, sa).qty, eng.ledger.position(vb, sb).qty


def said(app: ArbConsole, text: str) -> bool:
    """The console told the operator ``text`` (a notice)."""
    return any(text in str(n.message) for n in app._notifications)


async def palette(pilot: Pilot[object], app: ArbConsole, query: str) -> None:
    """Run the palette's entry that ``query`` finds first (short queries: every key typed
    into the palette waits for the screen, which a live session keeps redrawing)."""
    await pilot.press("ctrl+p")
    await eventually(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
    await pilot.press(*query)
    await pilot.pause(0.3)  # the palette searches on a worker
    await pilot.press("enter")
    await eventually(pilot, lambda: not isinstance(app.screen, CommandPalette), what="ran")


@asynccontextmanager
async def console_on(
    mode: str,
    rig: Rig,  # noqa: F811
) -> AsyncIterator[tuple[PaperSession, ArbConsole, Pilot[object]]]:
    """The console on a started session of ``mode`` (the pair open), once it has drawn its
    first snapshot; the session is stopped after."""
    session = start(LINEAR, rig, mode)
    app = ArbConsole(session.host, session.settings)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await eventually(pilot, lambda: app.snapshot is not None, what="first snapshot")
            yield session, app, pilot
    finally:
        session.host.stop()


@pytest.mark.parametrize("mode", ["paper", "live"])
async def test_every_key_on_a_real_session(mode: str, rig: Rig) -> None:  # noqa: F811
    async with console_on(mode, rig) as (session, app, pilot):
        assert state(session) == "ARMED"
        held = exposure(session)
        assert held == (Decimal("0.120"), Decimal("-0.120"))

        # p pauses (entries and adds stop), p again resumes
        await pilot.press("p")
        await eventually(pilot, lambda: state(session) == "PAUSED", what="PAUSED")
        await pilot.press("p")
        await eventually(pilot, lambda: state(session) == "ARMED", what="ARMED again")

        # a when already armed: says so and stays ARMED
        await pilot.press("a")
        await eventually(pilot, lambda: said(app, "Already ARMED"), what="said")
        assert state(session) == "ARMED"

        # replay keys mean nothing here: the engine's state and the ledger do not move
        trades = len(session.engine.ledger.trades)
        await pilot.press("space", "plus", "minus")
        await pilot.pause(0.2)
        assert state(session) == "ARMED" and len(session.engine.ledger.trades) == trades

        # views: v toggles, 1/2/3 pick; ? and f1 open the help of this mode
        await pilot.press("v")
        assert app.current_view == "detail"
        await pilot.press("3")
        assert app.current_view == "charts"
        await pilot.press("1")
        assert app.current_view == "main"
        await pilot.press("question_mark")
        await eventually(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert app.screen.engine_mode == mode
        await pilot.press("escape")
        await eventually(pilot, lambda: not isinstance(app.screen, HelpScreen))

        # e exports this session's audit rows: the two entry fills are in it
        await pilot.press("e")
        await eventually(pilot, lambda: app.last_export_message != "", what="export")
        path = Path(app.last_export_message.split(" to ", 1)[1])
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len([r for r in rows if r["kind"] == "fill"]) == trades

        # f asks, n keeps the position; f then y flattens both legs reduce-only
        await pilot.press("f")
        await eventually(pilot, lambda: isinstance(app.screen, ConfirmModal), what="asks")
        await pilot.press("n")
        await eventually(pilot, lambda: not isinstance(app.screen, ConfirmModal))
        assert exposure(session) == held
        await pilot.press("f")
        await eventually(pilot, lambda: isinstance(app.screen, ConfirmModal), what="asks")
        await pilot.press("y")
        await eventually(pilot, lambda: exposure(session) == (ZERO, ZERO), timeout=10, what="flat")
        assert state(session) == "REDUCING"
        closes = [t.fill for t in session.engine.ledger.trades][trades:]
        assert sorted((f.venue, f.side, f.qty, f.reduce_only) for f in closes) == [
            ("binance", "sell", Decimal("0.120"), True),
            ("bybit", "buy", Decimal("0.120"), True),
        ]

        # f with nothing open: says so and stays REDUCING
        await pilot.press("f")
        await eventually(pilot, lambda: said(app, "Nothing open"), what="nothing open")
        assert not isinstance(app.screen, ConfirmModal) and state(session) == "REDUCING"

        # a arms again: the engine re-enters (entry edge -100 %: at once)
        await pilot.press("a")
        await eventually(pilot, lambda: exposure(session) == held, timeout=10, what="re-entered")

        # ctrl+k asks on the main screen, y kills: HALTED and flat
        await pilot.press("ctrl+k")
        await eventually(pilot, lambda: app.kill_asked, what="kill asks")
        await pilot.press("y")
        await eventually(
            pilot,
            lambda: state(session) == "HALTED" and exposure(session) == (ZERO, ZERO),
            timeout=10,
            what="HALTED and flat",
        )


@pytest.mark.parametrize("mode", ["paper", "live"])
async def test_palette_runs_every_action_on_a_real_session(mode: str, rig: Rig) -> None:  # noqa: F811
    async with console_on(mode, rig) as (session, app, pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not [t for t in titles if t.startswith("Replay")]
        await palette(pilot, app, "pause")
        await eventually(pilot, lambda: state(session) == "PAUSED", what="PAUSED")
        await palette(pilot, app, "arm")
        await eventually(pilot, lambda: state(session) == "ARMED", what="ARMED")
        await palette(pilot, app, "charts")
        await eventually(pilot, lambda: app.current_view == "charts", what="charts")
        await palette(pilot, app, "screen: m")
        await eventually(pilot, lambda: app.current_view == "main", what="main")
        await palette(pilot, app, "export")
        await eventually(pilot, lambda: app.last_export_message != "", what="export")
        await palette(pilot, app, "flatten")
        await eventually(pilot, lambda: isinstance(app.screen, ConfirmModal), what="asks")
        await pilot.press("y")
        await eventually(pilot, lambda: exposure(session) == (ZERO, ZERO), timeout=10, what="flat")
        await palette(pilot, app, "kill")
        await eventually(pilot, lambda: app.kill_asked, what="kill asks")
        await pilot.press("y")
        await eventually(pilot, lambda: state(session) == "HALTED", timeout=10)
        assert exposure(session) == (ZERO, ZERO)
