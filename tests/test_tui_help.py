"""Help screen, footer and command palette per mode (issue 13, item 2).

Replay mode runs on the real :class:`core.runtime.host.EngineHost` (the shipped March 2020
replay, paused). Paper and live need live venues, so there a :class:`StaticHost` hands the app a
fixed snapshot of that mode: what is tested is which keys the console offers for a mode, and
that is read from the snapshot alone.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from textual.command import CommandPalette
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from core.domain.commands import Arm, Command, Kill, Pause, ReplaySpeed
from core.domain.config import load_config
from core.domain.snapshot import EngineSnapshot, ReplayView, RiskView
from tests.conftest import HISTORY_CONFIG
from tui.app import ArbConsole
from tui.help import KEYS, HelpScreen, help_table, keys_for
from tui.testing import RecordingHost, eventually, wait_until

REPLAY = Path(__file__).resolve().parent.parent / "replays" / "btc_2020-03.jsonl.gz"
IN_POSITION_TS_MS = 1584079200000  # 2020-03-13T06:00Z: hedge open after the 12 March crash
REPLAY_KEYS = {"space", "+ / -"}
REPLAY_ACTIONS = {"replay_toggle", "replay_speed"}


class StaticHost:
    """A host whose engine is in ``mode`` and never changes; records what it is handed."""

    def __init__(self, mode: str) -> None:
        risk = RiskView("DISARMED", 10_000.0, 10_000.0, 0.0, 0.0, 10.0, 0.0, 0.1, False)
        self._snap = EngineSnapshot(
            1_700_000_000_000, mode, (), (), (), (), risk, (), (), None, 0, False
        )
        self.submitted: list[Command] = []

    def submit(self, cmd: Command) -> None:
        self.submitted.append(cmd)

    def snapshot(self) -> EngineSnapshot:
        return self._snap

    def stop(self, timeout_s: float = 2.0) -> None:
        pass

    def hold_replay(self, seconds: float = 0.1) -> None:
        pass

    def release_replay(self) -> None:
        pass


@pytest.fixture
def replay_host() -> Iterator[RecordingHost]:
    host = RecordingHost.for_replay(
        load_config(HISTORY_CONFIG), REPLAY, pause_at_ts_ms=IN_POSITION_TS_MS
    )
    host.start()
    wait_until(lambda: host.snapshot().replay.paused, what="replay paused")
    yield host
    host.stop(timeout_s=2.0)


def footer_actions(app: ArbConsole) -> set[str]:
    """The actions of the keys the footer shows (without their parameters)."""
    return {key.action.split("(")[0] for key in app.query_one(Footer).query(FooterKey)}


def help_text(app: ArbConsole) -> str:
    assert isinstance(app.screen, HelpScreen)
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(help_table(app.screen.engine_mode))
    return console.export_text()


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_opens_with_every_key_of_replay_mode_and_closes(
    replay_host: RecordingHost, key: str
) -> None:
    app = ArbConsole(replay_host)
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        await pilot.press(key)
        await eventually(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = help_text(app)
        for k in KEYS:
            assert k.key in text and k.does.split(":")[0] in text
        box = app.screen.query_one("#help-box")
        assert box.region.bottom <= 24 and box.region.right <= 80  # all on an 80x24 screen
        await pilot.press("escape")
        await eventually(pilot, lambda: not isinstance(app.screen, HelpScreen), what="closed")
        await pilot.press(key)
        await eventually(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press(key)  # the same key closes it again
        await eventually(pilot, lambda: not isinstance(app.screen, HelpScreen))


@pytest.mark.parametrize("mode", ["paper", "live"])
async def test_paper_and_live_offer_no_replay_keys(mode: str) -> None:
    host = StaticHost(mode)
    app = ArbConsole(host)
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        await pilot.pause()
        shown = footer_actions(app)
        assert not shown & REPLAY_ACTIONS
        assert {"kill", "arm", "pause_resume", "flatten", "quit", "help", "export"} <= shown
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not [t for t in titles if t.startswith("Replay")]
        await pilot.press("space", "plus", "minus")  # do nothing and send nothing
        await pilot.pause()
        assert not host.submitted
        await pilot.press("question_mark")
        await eventually(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = help_text(app)
        assert "replay" not in text
        assert {k.key for k in keys_for(mode)} == {k.key for k in KEYS} - REPLAY_KEYS


async def test_replay_footer_has_every_key_within_80_columns(replay_host: RecordingHost) -> None:
    app = ArbConsole(replay_host)
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        await pilot.pause()
        keys = list(app.query_one(Footer).query(FooterKey))
        actions = {k.action.split("(")[0] for k in keys}
        assert actions >= {"kill", "arm", "pause_resume", "flatten", "quit", "help", "export"}
        assert actions >= REPLAY_ACTIONS | {"toggle_view"}
        assert all(k.region.right <= 80 and k.region.width > 0 for k in keys)


async def test_palette_offers_every_action_and_runs_them(replay_host: RecordingHost) -> None:
    app = ArbConsole(replay_host)
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        titles = " | ".join(c.title for c in app.get_system_commands(app.screen))
        for word in (
            "Arm",
            "Pause",
            "Flatten",
            "KILL",
            "Export",
            "Replay speed: faster",
            "Replay speed: slower",
            "Replay: pause",
            "Screen: main",
            "Screen: ladders",
        ):
            assert word in titles, word  # fmt: skip

        async def run(query: str) -> None:
            await pilot.press("ctrl+p")
            await eventually(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
            await pilot.press(*query)
            await pilot.pause(0.3)  # the palette searches on a worker
            await pilot.press("enter")
            await eventually(pilot, lambda: not isinstance(app.screen, CommandPalette))

        await run("speed: faster")
        await eventually(pilot, lambda: replay_host.commands_of(ReplaySpeed), what="speed")
        assert replay_host.commands_of(ReplaySpeed)[-1][1].step == 1
        await run("screen: ladders")
        await eventually(pilot, lambda: app.current_view == "detail", what="second view")
        await run("pause / resume")
        await eventually(pilot, lambda: replay_host.commands_of(Pause), what="Pause sent")
        await run("kill switch")
        await eventually(pilot, lambda: app.kill_asked, what="kill asks (inline)")
        await pilot.press("y")
        await eventually(pilot, lambda: replay_host.commands_of(Kill), what="Kill sent")


async def test_views_switch_with_v_1_and_2(replay_host: RecordingHost) -> None:
    app = ArbConsole(replay_host)
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        assert app.current_view == "main"
        await pilot.press("v")
        assert app.current_view == "detail"
        assert app.query_one("#ladders-detail").region.height > 0
        await pilot.press("v")
        assert app.current_view == "main"
        await pilot.press("2")
        assert app.current_view == "detail"
        await pilot.press("1")
        assert app.current_view == "main"


def footer_labels(app: ArbConsole) -> dict[str, tuple[str, bool]]:
    """Each key the footer shows: (its label, dimmed)."""
    keys = app.query_one(Footer).query(FooterKey)
    return {k.key: (k.description, k.has_class("-disabled")) for k in keys}


async def test_the_footers_labels_follow_the_state(replay_host: RecordingHost) -> None:
    """``p Pause`` said Pause while PAUSED: the footer says what the key does now: p Pause
    (ARMED) / Resume (PAUSED), space Play (replay paused) / Hold (running); a Arm is dimmed
    while ARMED and f Flatten with nothing open, and pressing them says why nothing happens."""
    app = ArbConsole(replay_host)
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        await pilot.pause()
        labels = footer_labels(app)
        assert app.snapshot.risk.trading_state == "ARMED" and app.snapshot.exposure_open
        assert (labels["a"], labels["p"], labels["f"]) == (
            ("Arm", True), ("Pause", False), ("Flatten", False),
        )  # fmt: skip
        assert labels["space"] == ("Play", False)  # the replay clock is paused
        await pilot.press("a")  # dimmed: nothing sent, a notice says why
        await pilot.pause()
        assert not replay_host.commands_of(Arm)
        await pilot.press("p")
        await eventually(pilot, lambda: app.snapshot.risk.trading_state == "PAUSED")
        await eventually(pilot, lambda: footer_labels(app).get("p") == ("Resume", False))
        assert footer_labels(app)["a"] == ("Arm", False)  # PAUSED: arming does something
        await pilot.press("p")
        await eventually(pilot, lambda: app.snapshot.risk.trading_state == "ARMED")
        await eventually(pilot, lambda: footer_labels(app).get("p") == ("Pause", False))
        await pilot.press("ctrl+k")
        await eventually(pilot, lambda: app.kill_asked)
        await pilot.press("y")
        await eventually(pilot, lambda: app.snapshot.risk.trading_state == "HALTED")
        await eventually(pilot, lambda: not app.snapshot.exposure_open)
        await eventually(pilot, lambda: footer_labels(app).get("f") == ("Flatten", True))
        assert footer_labels(app)["p"] == ("Pause", True)  # HALTED: neither pause nor resume
        await pilot.press("p", "f")  # dimmed: nothing sent, no dialog
        await pilot.pause()
        assert len(replay_host.commands_of(Pause)) == 1 and len(app.screen_stack) == 1


async def test_space_says_hold_while_the_replay_runs() -> None:
    host = StaticHost("replay")
    risk = host._snap.risk
    host._snap = EngineSnapshot(
        1_700_000_000_000, "replay", (), (), (), (), risk, (), (),
        ReplayView(10, 100, 14_400.0, paused=False, finished=False), 0, False,
    )  # fmt: skip
    app = ArbConsole(host)
    async with app.run_test(size=(120, 40)) as pilot:
        await eventually(pilot, lambda: app.snapshot is not None)
        await pilot.pause()
        assert footer_labels(app)["space"] == ("Hold", False)
        host._snap = replace(host._snap, replay=ReplayView(100, 100, 14_400.0, False, True))
        await eventually(pilot, lambda: footer_labels(app).get("space") == ("Play", True))  # end
