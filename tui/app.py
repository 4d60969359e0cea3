"""The console app: panels fed from engine snapshots, hotkeys that submit commands.

The engine runs on its own thread (``core.runtime.host.EngineHost``); this app never does engine
work
on its loop. A timer pulls ``host.snapshot()`` ``REFRESH_HZ`` times a second, skips the work
when the snapshot object has not changed, and applies a new one to every panel inside
``batch_update()``. Key handlers only call ``host.submit`` (thread-safe, returns at once);
destructive actions (flatten, kill) and quitting with exposure open ask first in a modal. The
kill switch is ctrl+k (a Ctrl binding survives SSH and tmux, where Esc and Alt get split) with
``priority=True``, so it works while a modal is open; in the kill modal ``y`` or a second
ctrl+k confirms.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
from typing import Any, ClassVar, Protocol

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer, ProgressBar

from core.domain.commands import (
    Arm,
    Command,
    ExportAudit,
    Flatten,
    Kill,
    Pause,
    ReplaySpeed,
    ReplayTogglePause,
    Resume,
    Shutdown,
)
from core.domain.snapshot import EngineSnapshot
from tui.modals import ConfirmModal
from tui.widgets import (
    EventLog,
    FundingPanel,
    LaddersPanel,
    LegsPanel,
    RiskPanel,
    StatusLine,
)

REFRESH_HZ = 8
"""Snapshot pulls per second (DESIGN: coalesce to about 10 frames a second)."""

STOP_TIMEOUT_S = 1.5
"""How long quitting waits for the engine thread (the process must exit within 2 s)."""


class Host(Protocol):
    """What the console needs of ``core.runtime.host.EngineHost``."""

    def submit(self, cmd: Command) -> None: ...

    def snapshot(self) -> EngineSnapshot | None: ...

    def stop(self, timeout_s: float = 2.0) -> None: ...


def operator_source() -> str:
    """Who sends commands, for the audit log: ``user@tty (ssh ADDR)``."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry, no LOGNAME: still send commands
        user = "?"
    tty = "console"
    with contextlib.suppress(OSError):
        tty = os.ttyname(0).removeprefix("/dev/")
    ssh = os.environ.get("SSH_CLIENT", "").split(" ")[0]
    return f"{user}@{tty}" + (f" (ssh {ssh})" if ssh else "")


class ArbConsole(App[int]):
    """Trading console for one :class:`~core.runtime.host.EngineHost`.

    ``settings`` is the loaded config (``core.domain.config``); everything shown comes from the
    snapshot, so the console reads nothing else from it.
    """

    CSS_PATH = "app.tcss"
    TITLE = "arbtui"
    ENABLE_COMMAND_PALETTE = False
    # textual declares these as instance variables: a ClassVar here would not type-check
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-narrow"),
        (110, "-wide"),
    ]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]  # noqa: RUF012

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "arm", "Arm"),
        Binding("p", "pause_resume", "Pause"),
        Binding("f", "flatten", "Flatten"),
        Binding("ctrl+k", "kill", "KILL", priority=True),
        Binding("space", "replay_toggle", "Replay", key_display="space"),
        Binding("plus,equals_sign", "replay_speed(1)", "Faster", key_display="+"),
        Binding("minus", "replay_speed(-1)", "Slower", key_display="-"),
        Binding("e", "export", "Export"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, host: Host, settings: Any = None) -> None:
        super().__init__()
        self.host = host
        self.settings = settings
        self.snapshot: EngineSnapshot | None = None
        """The snapshot on screen (None until the engine published one)."""
        self.applied = 0
        """How many distinct snapshots have been applied (for tests and diagnostics)."""
        self.source = operator_source()
        self._panels: list[Any] = []
        self._timer: Timer | None = None
        self._stopping = False
        self.last_export_message = ""
        """What the last export said (for tests and the operator's scrollback)."""

    # -- layout and refresh -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with VerticalScroll(id="body"):
            yield FundingPanel(id="funding", classes="panel")
            yield LegsPanel(id="legs", classes="panel")
            with Horizontal(id="lower"):
                yield LaddersPanel(id="ladders", classes="panel")
                yield RiskPanel(id="risk", classes="panel")
            yield EventLog(id="log", classes="panel")
        yield ProgressBar(id="export-progress", show_eta=False)
        yield Footer()

    def on_mount(self) -> None:
        self._panels = [
            self.query_one(StatusLine),
            self.query_one(FundingPanel),
            self.query_one(LegsPanel),
            self.query_one(LaddersPanel),
            self.query_one(RiskPanel),
            self.query_one(EventLog),
        ]
        self.query_one(StatusLine).update(" arbtui  waiting for the engine…")
        self.refresh_snapshot()
        self._timer = self.set_interval(1 / REFRESH_HZ, self.refresh_snapshot)

    def refresh_snapshot(self) -> None:
        """Pull the latest snapshot; apply it to every panel if it is a new object."""
        if not self.is_running or self._stopping:
            return  # shutting down: the panels may already be gone
        snap = self.host.snapshot()
        if snap is None or snap is self.snapshot:
            return
        self.snapshot = snap
        with self.batch_update():
            for panel in self._panels:
                panel.apply(snap)
        self.applied += 1

    # -- commands -----------------------------------------------------------------------

    def submit(self, cmd: Command) -> None:
        """Hand ``cmd`` to the engine; returns at once (the engine logs what it did)."""
        self.host.submit(cmd)

    def _trading_state(self) -> str | None:
        return None if self.snapshot is None else self.snapshot.risk.trading_state

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a modal is open only the kill switch (and the modal's own keys) act."""
        if isinstance(self.screen, ModalScreen) and action not in ("kill",):
            return False
        return True

    def action_arm(self) -> None:
        """``a``: allow the strategy to open and add."""
        self.submit(Arm(source=self.source))

    def action_pause_resume(self) -> None:
        """``p``: Pause when ARMED, Resume when PAUSED; otherwise say why nothing happens."""
        state = self._trading_state()
        if state == "ARMED":
            self.submit(Pause(source=self.source))
        elif state == "PAUSED":
            self.submit(Resume(source=self.source))
        else:
            self.notify(f"Pause/resume needs ARMED or PAUSED (now {state}).", timeout=3)

    def action_flatten(self) -> None:
        """``f``: after confirmation, close every leg reduce-only and go to REDUCING."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.submit(Flatten(source=self.source))

        self.push_screen(
            ConfirmModal(
                "flatten",
                "Flatten all positions?",
                "Close every leg with reduce-only orders and go to REDUCING.",
            ),
            answered,
        )

    def action_kill(self) -> None:
        """ctrl+k: ask, then cancel all orders, flatten reduce-only and HALT.

        Inside the kill modal a second ctrl+k confirms. Any other modal is cancelled first.
        """
        screen = self.screen
        if isinstance(screen, ConfirmModal) and screen.kind == "kill":
            screen.dismiss(True)
            return
        while isinstance(self.screen, ModalScreen) and len(self.screen_stack) > 1:
            self.screen.dismiss(False)

        def answered(yes: bool | None) -> None:
            if yes:
                self.submit(Kill(source=self.source))

        self.push_screen(
            ConfirmModal(
                "kill",
                "KILL SWITCH",
                "Cancel all open orders, flatten both legs reduce-only and HALT.\n"
                "Confirm with y or ctrl+k again.",
                danger=True,
            ),
            answered,
        )

    def action_replay_toggle(self) -> None:
        """``space``: pause or continue the replay clock."""
        if self.snapshot is not None and self.snapshot.replay is None:
            self.notify("Not a replay.", timeout=2)
            return
        self.submit(ReplayTogglePause(source=self.source))

    def action_replay_speed(self, step: int) -> None:
        """``+``/``=`` faster, ``-`` slower, along the engine's speed steps."""
        if self.snapshot is not None and self.snapshot.replay is None:
            self.notify("Not a replay.", timeout=2)
            return
        self.submit(ReplaySpeed(step=step, source=self.source))

    def action_export(self) -> None:
        """``e``: ask the host to write this session's audit log to a CSV file (on a worker
        thread), with a progress bar; the path is shown when done."""
        bar = self.query_one("#export-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True

        def progress(done: int, total: int) -> None:
            self.call_from_thread(bar.update, total=max(total, 1), progress=done)

        def done(message: str, ok: bool) -> None:
            self.call_from_thread(self._export_done, message, "" if ok else "error")

        self.submit(ExportAudit(progress=progress, done=done, source=self.source))

    def _export_done(self, message: str, severity: str) -> None:
        self.query_one("#export-progress", ProgressBar).display = False
        self.last_export_message = message
        self.notify(message, severity="error" if severity else "information", timeout=8)

    async def action_quit(self) -> None:
        """``q``: quit; with exposure open, ask first. Stops the engine, then exits."""
        if self._stopping:
            return
        if self.snapshot is not None and self.snapshot.exposure_open:

            def answered(yes: bool | None) -> None:
                if yes:
                    self.begin_shutdown()

            self.push_screen(
                ConfirmModal(
                    "quit",
                    "Positions are open",
                    "Quit anyway? The engine stops; open positions stay on the venues.",
                    danger=True,
                ),
                answered,
            )
        else:
            self.begin_shutdown()

    @property
    def stop_requested(self) -> bool:
        """True once quitting has sent Shutdown and asked the host to stop."""
        return self._stopping

    def begin_shutdown(self) -> None:
        """Send Shutdown, stop the engine thread off the app loop, then exit."""
        if self._stopping:
            return
        self._stopping = True
        if self._timer is not None:
            self._timer.stop()
        self.host.submit(Shutdown(source=self.source))
        self.run_worker(self._stop_and_exit(), group="shutdown", exclusive=True)

    async def _stop_and_exit(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.host.stop, STOP_TIMEOUT_S)
        self.exit(0)
