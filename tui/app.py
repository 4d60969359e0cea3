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

Layout by terminal size (the app's breakpoints set ``-narrow``/``-wide`` and ``-short``/``-tall``
on the screen; ``app.tcss`` places the panels on a grid): below 110 columns the tables show
their compact column sets and the status line its short form; below 34 rows the ladders leave
the main view and the equity sparkline goes, so funding, legs, drawdown and the log fit
without scrolling. The second view (``v``, ``2``) shows the ladders and the equity curve at
every size. ``?``/F1 opens the help of this mode's keys; the footer shows only the keys that
act in this mode (no replay keys in paper or live); ctrl+p offers every action by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, ClassVar, Literal, Protocol

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Footer, ProgressBar

from core.domain.commands import (
    Arm,
    ArmPair,
    Command,
    ExportAudit,
    Flatten,
    Kill,
    Pause,
    RemovePair,
    ReplaySpeed,
    ReplayTogglePause,
    Resume,
    SettleRestart,
    Shutdown,
)
from core.domain.snapshot import EngineSnapshot
from tui.help import HelpScreen
from tui.modals import ConfirmModal, KillBar
from tui.scanner_screen import ScanFeed, ScannerScreen
from tui.widgets import (
    Banner,
    BookPanel,
    ChartsPanel,
    EquityPanel,
    EventLog,
    FundingPanel,
    LaddersPanel,
    LegsPanel,
    RiskPanel,
    StatusLine,
)
from tui.widgets.table import COMPACT_BELOW_COLUMNS

REFRESH_HZ = 8
"""Snapshot pulls per second (DESIGN: coalesce to about 10 frames a second)."""

REFRESH_HOLD_S = 0.1
"""At each full refresh a replay's events wait until the frame is drawn (at most this long),
so that applying and drawing it does not share the interpreter with a replay running flat
out (a key pressed meanwhile is answered sooner); a flat-out replay in the console runs
slower by the console's share, a headless one not at all."""

ANSWER_POLL_S = 0.005
"""After a command, the snapshot is pulled this often until it shows the engine's answer."""

ANSWER_WAIT_S = 0.5
"""How long the console watches for a command's answer before the refresh tick takes over."""

FOLLOW_S = 0.03
"""After the answer is on the status line, the other panels are brought up to date this much
later (a frame in between shows the answer first)."""


REPLAY_ACTIONS = frozenset({"replay_toggle", "replay_speed"})
"""Actions that exist only in replay mode (hidden from the footer in paper and live)."""

VIEWS = ("main", "detail", "charts")
"""The console's views: ``main`` (everything an operator needs at a glance), ``detail``
(ladders and the equity curve) and ``charts`` (rates, spread, equity and drawdown over time)."""

STOP_TIMEOUT_S = 1.5
"""How long quitting waits for the engine thread (the process must exit within 2 s)."""


RESTART_CHOICES: dict[Literal["adopt", "flatten", "leave"], str] = {
    "adopt": "Live start-up found positions: book them, cancel unknown orders, stay DISARMED",
    "flatten": "Live start-up found positions: book them, cancel orders, close all reduce-only",
    "leave": "Live start-up found positions: touch nothing; HALTED for this session",
}
"""The answers to a live restart review (core.engine.restart), offered in the palette."""


class Host(Protocol):
    """What the console needs of ``core.runtime.host.EngineHost``."""

    def submit(self, cmd: Command) -> None: ...

    def snapshot(self) -> EngineSnapshot | None: ...

    def stop(self, timeout_s: float = 2.0) -> None: ...

    def hold_replay(self, seconds: float = ...) -> None: ...

    def release_replay(self) -> None: ...


def view_of(widget: Any) -> str | None:
    """The view (one of :data:`VIEWS`) that holds ``widget``, or None."""
    node = widget
    while node is not None:
        if node.id in VIEWS:
            return str(node.id)
        node = node.parent
    return None


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
    ENABLE_COMMAND_PALETTE = True
    # textual declares these as instance variables: a ClassVar here would not type-check
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-narrow"),
        (COMPACT_BELOW_COLUMNS, "-wide"),
    ]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]  # noqa: RUF012

    # The footer's order: what matters most first, so a narrow terminal cuts the least useful.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+k", "kill", "KILL", priority=True),
        Binding("y", "kill_answer(True)", "Confirm KILL", show=False),
        Binding("n,escape", "kill_answer(False)", "Cancel", show=False),
        # a key whose action depends on the state has a binding per label (the footer shows
        # the one that applies, dimmed when none does: check_action) and a hidden one that
        # says why nothing happens (a Arm while ARMED, f Flatten with nothing open)
        Binding("a", "arm", "Arm"),
        Binding("a", "arm('noted')", "Arm", show=False),
        Binding("p", "pause_resume('pause')", "Pause"),
        Binding("p", "pause_resume('resume')", "Resume"),
        Binding("p", "pause_resume", "Pause", show=False),
        Binding("f", "flatten", "Flatten"),
        Binding("f", "flatten('noted')", "Flatten", show=False),
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("v", "toggle_view", "View"),
        Binding("1", "show_view('main')", "Main", show=False),
        Binding("2", "show_view('detail')", "Ladders", show=False),
        Binding("3", "show_view('charts')", "Charts", show=False),
        Binding("e", "export", "CSV"),
        Binding("s", "scanner", "Scan", show=False),
        Binding("space", "replay_toggle('hold')", "Hold", key_display="space"),
        Binding("space", "replay_toggle('play')", "Play", key_display="space"),
        Binding(
            "plus,equals_sign",
            "replay_speed(1)",
            "Faster",
            key_display="+",
            group=Binding.Group("Speed", compact=True),
        ),
        Binding(
            "minus",
            "replay_speed(-1)",
            "Slower",
            key_display="-",
            group=Binding.Group("Speed", compact=True),
        ),
    ]

    def __init__(
        self, host: Host, settings: Any = None, scanner: Callable[[], ScanFeed] | None = None
    ) -> None:
        super().__init__()
        self.scanner = scanner
        """Starts the funding scanner on first ``s`` (None: not offered in this session)."""
        self.scan_feed: ScanFeed | None = None
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
        self._answer_timer: Timer | None = None
        self._answer_seq = 0
        self._answer_replay: tuple[bool, float | None] | None = None
        self._answer_until = 0.0
        self._behind = False
        """True while only the status line and banner show the latest snapshot."""
        self.kill_asked = False
        """True while the inline kill confirmation is on screen (``y`` or ctrl+k confirms)."""

    # -- layout and refresh -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="top"):
            yield StatusLine(id="status")
            yield Banner(id="banner")
        with ContentSwitcher(id="views", initial="main"):
            with Vertical(id="main"):
                yield FundingPanel(id="funding", classes="panel")
                yield LegsPanel(id="legs", classes="panel")
                yield LaddersPanel(id="ladders", classes="panel")
                yield RiskPanel(id="risk", classes="panel")
                yield EventLog(id="log", classes="panel")
            with Vertical(id="detail"):
                yield LaddersPanel(id="ladders-detail", classes="panel")
                yield BookPanel(id="book", classes="panel")
                yield EquityPanel(id="equity-detail", classes="panel")
            yield ChartsPanel(id="charts", classes="panel")
        yield ProgressBar(id="export-progress", show_eta=False)
        yield KillBar(id="kill-bar")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._panels = [
            self.query_one(StatusLine),
            self.query_one(Banner),
            self.query_one(FundingPanel),
            self.query_one(LegsPanel),
            *self.query(LaddersPanel),
            self.query_one(RiskPanel),
            self.query_one(BookPanel),
            self.query_one(EquityPanel),
            self.query_one(ChartsPanel),
            self.query_one(EventLog),
        ]
        # the status line, the banner and the log are always on screen (the log appends
        # every entry even while another view is up); each view's panels are drawn only
        # while it is shown, and at once when it is switched to
        self._always = [
            self.query_one(StatusLine),
            self.query_one(Banner),
            self.query_one(EventLog),
        ]
        self._view_panels = {
            view: [p for p in self._panels if p not in self._always and view_of(p) == view]
            for view in VIEWS
        }
        self.query_one(StatusLine).update(" arbtui  waiting for the engine…")
        self._fit(self.size.width)
        self.refresh_snapshot()
        self._timer = self.set_interval(1 / REFRESH_HZ, self.refresh_snapshot)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        """Compact tables and status line below :data:`COMPACT_BELOW_COLUMNS` columns."""
        compact = width < COMPACT_BELOW_COLUMNS
        for panel in self._panels:
            set_compact = getattr(panel, "set_compact", None)
            if set_compact is not None:
                set_compact(compact)

    @property
    def engine_mode(self) -> str | None:
        """``replay``, ``paper`` or ``live`` from the engine's snapshot (None before one)."""
        return None if self.snapshot is None else self.snapshot.mode

    @property
    def current_view(self) -> str:
        """The view on screen: ``main`` or ``detail`` (ladders and equity)."""
        return self.query_one("#views", ContentSwitcher).current or "main"

    def refresh_snapshot(self, quick: bool = False) -> None:
        """Pull the latest snapshot; apply it to every panel if it is a new object. ``quick``
        (while a command's answer is awaited): only the status line and the banner, which say
        what the command did; the other panels follow on the next full refresh."""
        if not self.is_running or self._stopping:
            return  # shutting down: the panels may already be gone
        snap = self.host.snapshot()
        if snap is None or (snap is self.snapshot and not (self._behind and not quick)):
            return
        keys_before = self._key_state()
        # several pairs: the ladders leave the main view (view 2 has them) and, on a short
        # terminal, the funding and legs tables are capped, so the drawdown panel and the
        # log always keep their room (app.tcss, #main.-multi)
        self.query_one("#main").set_class(len(snap.pairs) > 1, "-multi")
        self.snapshot = snap
        if self._key_state() != keys_before:
            self.refresh_bindings()  # the footer's keys and labels follow these
        if not quick:  # the frame is drawn with the interpreter to itself (a replay waits)
            self.host.hold_replay(REFRESH_HOLD_S)
            self.call_after_refresh(self.host.release_replay)  # drawn: the replay goes on
        panels = self._panels[:2] if quick else self._shown_panels()
        self._behind = quick
        with self.batch_update():
            for panel in panels:
                panel.apply(snap)
        self.applied += 1

    def _shown_panels(self) -> list[Any]:
        """The panels on screen now: the status line, the banner, the log and the current
        view's panels."""
        return [*self._always, *self._view_panels.get(self.current_view, [])]

    # -- commands -----------------------------------------------------------------------

    def submit(self, cmd: Command) -> None:
        """Hand ``cmd`` to the engine; returns at once (the engine logs what it did). Then
        watch for its answer every :data:`ANSWER_POLL_S` instead of waiting for the next
        refresh tick (up to 125 ms): the operator sees the result of a key as soon as the
        engine has published it."""
        self.host.hold_replay()  # the answer is drawn without a replay competing for the CPU
        self.host.submit(cmd)
        snap = self.snapshot
        self._answer_seq = snap.log[-1].seq if snap is not None and snap.log else 0
        self._answer_replay = (
            None if snap is None or snap.replay is None else (snap.replay.paused, snap.replay.speed)
        )
        self._answer_until = time.monotonic() + ANSWER_WAIT_S
        if self._answer_timer is None:
            self._answer_timer = self.set_interval(ANSWER_POLL_S, self._poll_answer)

    def _poll_answer(self) -> None:
        """Apply a new snapshot's status line and banner at once; stop watching once it shows
        the command's answer (a new command entry in the engine's log, or the replay paused or
        sped up) or after :data:`ANSWER_WAIT_S`, and let the other panels follow."""
        self.refresh_snapshot(quick=True)
        snap = self.snapshot
        answered = snap is not None and (
            (bool(snap.log) and snap.log[-1].seq > self._answer_seq
             and any(e.kind == "command" and e.seq > self._answer_seq for e in snap.log[-8:]))
            or (snap.replay is not None
                and (snap.replay.paused, snap.replay.speed) != self._answer_replay)
        )  # fmt: skip
        if answered or time.monotonic() > self._answer_until:
            if self._answer_timer is not None:
                self._answer_timer.stop()
                self._answer_timer = None
            self.set_timer(FOLLOW_S, self.refresh_snapshot)  # the other panels, soon

    def _trading_state(self) -> str | None:
        return None if self.snapshot is None else self.snapshot.risk.trading_state

    def _key_state(self) -> tuple[object, ...]:
        """What the footer's keys depend on: the mode, the trading state, open exposure and
        the replay clock (paused, finished)."""
        snap = self.snapshot
        if snap is None:
            return ()
        rp = snap.replay
        clock = None if rp is None else (rp.paused, rp.finished)
        return (snap.mode, snap.risk.trading_state, snap.exposure_open, clock)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a modal is open only the kill switch (and the modal's own keys) act; replay
        keys exist only in replay mode (False also hides them from the footer). The keys
        whose action depends on the state show the label that applies (``p Pause`` while
        ARMED, ``p Resume`` while PAUSED; ``space Hold`` while the replay runs, ``Play``
        while it is paused) and are dimmed (None) when none does (``a Arm`` while ARMED,
        ``p Pause`` in DISARMED, REDUCING or HALTED, ``f Flatten`` with nothing open,
        ``space Play`` once the replay has ended); the hidden binding of the same key then
        says why nothing happens."""
        if isinstance(self.screen, ModalScreen) and action not in ("kill",):
            return False
        if action == "kill_answer":
            return self.kill_asked  # y, n and escape mean something only while asked
        if action in REPLAY_ACTIONS and self.engine_mode not in (None, "replay"):
            return False
        if not parameters:
            return self._plain_key_state(action)
        return self._labelled_key_state(action, str(parameters[0]))

    def _plain_key_state(self, action: str) -> bool | None:
        """A state-dependent key's shown binding: dimmed (None) when it would do nothing."""
        snap = self.snapshot
        if snap is None:
            return True
        if action == "arm" and snap.risk.trading_state == "ARMED":
            return None
        if action == "flatten" and not snap.exposure_open:
            return None
        return True

    def _labelled_key_state(self, action: str, label: str) -> bool | None:
        """The binding of a key with one label per state (see :meth:`check_action`)."""
        snap = self.snapshot
        if action == "pause_resume":
            state = None if snap is None else snap.risk.trading_state
            if label == "resume":
                return state == "PAUSED"
            return False if state == "PAUSED" else (True if state in (None, "ARMED") else None)
        if action == "replay_toggle":
            rp = None if snap is None else snap.replay
            running = rp is not None and not rp.paused and not rp.finished
            if label == "hold":
                return running
            return False if running else (None if rp is not None and rp.finished else True)
        return True  # the hidden bindings ("noted"): they say why nothing happens

    def action_scanner(self) -> None:
        """``s``: the funding scanner screen (started on first use)."""
        if self.scan_feed is None:
            if self.scanner is None:
                self.notify("The funding scanner is not available in this session.", timeout=3)
                return
            self.scan_feed = self.scanner()
        self.push_screen(
            ScannerScreen(self.scan_feed, submit=self.submit, snapshot=lambda: self.snapshot)
        )

    def action_help(self) -> None:
        """``?``/F1: the keys of this mode."""
        self.push_screen(HelpScreen(self.engine_mode))

    def action_show_view(self, view: str) -> None:
        """``1``/``2``/``3``: the main view, the ladders-and-equity view, the charts."""
        if view in VIEWS:
            self.host.hold_replay()
            self.query_one("#views", ContentSwitcher).current = view
            if self.snapshot is not None:  # its panels were not drawn while it was hidden
                with self.batch_update():
                    for panel in self._view_panels.get(view, []):
                        panel.apply(self.snapshot)

    def action_toggle_view(self) -> None:
        """``v``: switch between the two views."""
        self.action_show_view("detail" if self.current_view == "main" else "main")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): every console action by name, for this mode."""
        yield SystemCommand("Arm", "Let the strategy open and add (a)", self.action_arm)
        yield SystemCommand("Pause / resume", "No entries or adds; exits go on (p)",
                            self.action_pause_resume)  # fmt: skip
        yield SystemCommand("Flatten", "Asks, then closes every leg reduce-only (f)",
                            self.action_flatten)  # fmt: skip
        yield SystemCommand("KILL switch", "Asks, then cancels, flattens and HALTs (ctrl+k)",
                            self.action_kill)  # fmt: skip
        yield SystemCommand("Export audit log", "Write this session's audit log to CSV (e)",
                            self.action_export)  # fmt: skip
        for name in self.disarmed_pairs():
            what = f"Let pair {name}, added DISARMED, trade as the engine's state allows"
            yield SystemCommand(f"Arm pair {name}", what, partial(self.arm_pair, name))
        for name in self.pair_names():
            what = f"Take pair {name} out of this session (refused unless flat: flatten first)"
            yield SystemCommand(f"Remove pair {name}", what, partial(self.remove_pair, name))
        if self.engine_mode == "live":
            for choice, what in RESTART_CHOICES.items():
                answer = SettleRestart(choice=choice, source=self.source)
                yield SystemCommand(f"Restart review: {choice}", what,
                                    partial(self.submit, answer))  # fmt: skip
        if self.engine_mode in (None, "replay"):
            yield SystemCommand("Replay: pause / continue", "The replay clock (space)",
                                self.action_replay_toggle)  # fmt: skip
            yield SystemCommand("Replay speed: faster", "Next speed step (+)",
                                partial(self.action_replay_speed, 1))  # fmt: skip
            yield SystemCommand("Replay speed: slower", "Previous speed step (-)",
                                partial(self.action_replay_speed, -1))  # fmt: skip
        yield SystemCommand("Screen: main", "Funding, legs, drawdown, log (1)",
                            partial(self.action_show_view, "main"))  # fmt: skip
        yield SystemCommand("Screen: ladders and equity", "DCA ladders, equity curve (2)",
                            partial(self.action_show_view, "detail"))  # fmt: skip
        yield SystemCommand("Screen: charts", "Rates, spread, equity, drawdown over time (3)",
                            partial(self.action_show_view, "charts"))  # fmt: skip
        yield SystemCommand("Help", "The keys of this mode (? or F1)", self.action_help)
        if self.scanner is not None:
            yield SystemCommand("Funding scanner", "Every pair two venues list, ranked by net "
                                "carry (s)", self.action_scanner)  # fmt: skip
        yield SystemCommand("Quit", "Asks first while exposure is open (q)", self.action_quit)

    def disarmed_pairs(self) -> list[str]:
        """Names of the pairs added at run time and not armed yet (from the snapshot)."""
        snap = self.snapshot
        return [] if snap is None else [p.name for p in snap.pairs if not p.armed]

    def pair_names(self) -> list[str]:
        """Names of the session's pairs (from the snapshot)."""
        snap = self.snapshot
        return [] if snap is None else [p.name for p in snap.pairs]

    def remove_pair(self, name: str) -> None:
        """Palette ``Remove pair NAME``: the engine takes the pair out if it is flat, else
        refuses with an alert saying why (``remove pair NAME: refused: ...``)."""
        self.submit(RemovePair(pair=name, source=self.source))

    def arm_pair(self, name: str) -> None:
        """Palette ``Arm pair NAME``: let a pair added DISARMED trade (arming the engine
        does not arm it)."""
        self.submit(ArmPair(pair=name, source=self.source))

    def action_arm(self, _binding: str = "") -> None:
        """``a``: allow the strategy to open and add; when already ARMED, say so (and name
        the pairs added at run time that are still DISARMED: arming the engine does not
        arm them)."""
        waiting = self.disarmed_pairs()
        later = (
            f" Pair{'s' if len(waiting) > 1 else ''} {', '.join(waiting)} stay DISARMED until "
            "armed (ctrl+p: Arm pair)."
            if waiting
            else ""
        )
        if self._trading_state() == "ARMED":
            self.notify("Already ARMED: the strategy may open and add." + later, timeout=4)
            return
        self.submit(Arm(source=self.source))
        if later:
            self.notify(later.strip(), timeout=4)

    def action_pause_resume(self, _label: str = "") -> None:
        """``p``: Pause when ARMED, Resume when PAUSED; otherwise say why nothing happens."""
        state = self._trading_state()
        if state == "ARMED":
            self.submit(Pause(source=self.source))
        elif state == "PAUSED":
            self.submit(Resume(source=self.source))
        else:
            self.notify(f"Pause/resume needs ARMED or PAUSED (now {state}).", timeout=3)

    def action_flatten(self, _binding: str = "") -> None:
        """``f``: after confirmation, close every leg reduce-only and go to REDUCING. With
        nothing open, say so and stay in the current state."""
        if self.snapshot is not None and not self.snapshot.exposure_open:
            self.notify(
                f"Nothing open to flatten (state stays {self._trading_state()}).", timeout=3
            )
            return

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
        """ctrl+k: ask on the main screen (an inline bar, no screen switch), then cancel all
        orders, flatten reduce-only and HALT.

        A second ctrl+k (or ``y``) confirms; ``n`` or escape cancels. Any open modal is
        cancelled and any other screen (the scanner) closed first, so the question is never
        hidden behind another.
        """
        if self.kill_asked:
            self.action_kill_answer(True)
            return
        while len(self.screen_stack) > 1:  # back to the main screen, where the question is
            if isinstance(self.screen, ModalScreen):
                self.screen.dismiss(False)
            else:
                self.pop_screen()  # the scanner (or any full screen) would hide it
        self.kill_asked = True
        self.query_one(KillBar).display = True
        self.query_one(Footer).display = False
        self.refresh_bindings()

    def action_kill_answer(self, yes: bool) -> None:
        """``y`` (or a second ctrl+k) while the kill question is up: send Kill at once, in this
        key's handler; ``n``/escape: cancel. Either way the question goes."""
        if not self.kill_asked:
            return
        if yes:
            self.submit(Kill(source=self.source))
        self.kill_asked = False
        self.query_one(KillBar).display = False
        self.query_one(Footer).display = True
        self.refresh_bindings()

    def action_replay_toggle(self, _label: str = "") -> None:
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

            where = (
                "the replay's simulated positions are dropped"
                if self.engine_mode == "replay"
                else "open positions stay on the venues"
            )
            self.push_screen(
                ConfirmModal(
                    "quit",
                    "Positions are open",
                    f"Quit anyway? The engine stops; {where}.",
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
