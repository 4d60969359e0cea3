"""The live restart review's answers in the console (issue 11 item 4): the palette offers
adopt, flatten and leave in live mode only, and each sends the engine its SettleRestart."""

from __future__ import annotations

import pytest
from textual.command import CommandPalette

from core.domain.commands import SettleRestart
from tests.test_tui_help import StaticHost
from tui.app import ArbConsole
from tui.testing import eventually


@pytest.mark.parametrize("mode", ["replay", "paper"])
async def test_only_live_offers_the_restart_answers(mode: str) -> None:
    app = ArbConsole(StaticHost(mode))
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not [t for t in titles if t.startswith("Restart review")]


async def test_live_palette_sends_the_chosen_restart_answer() -> None:
    host = StaticHost("live")
    app = ArbConsole(host)
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert [t for t in titles if t.startswith("Restart review")] == [
            "Restart review: adopt",
            "Restart review: flatten",
            "Restart review: leave",
        ]
        await pilot.press("ctrl+p")
        await eventually(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"restart review: flatten")
        await pilot.pause(0.3)  # the palette searches on a worker
        await pilot.press("enter")
        await eventually(pilot, lambda: bool(host.submitted), what="answer sent")
        assert [(type(c), c.choice) for c in host.submitted] == [(SettleRestart, "flatten")]
