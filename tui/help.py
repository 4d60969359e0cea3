"""The console's keys, per mode, and the help screen (``?`` or F1) that lists them.

:data:`KEYS` is the one list the help screen, the README's table and the tests read: each
key as shown, what it does, and the modes it applies to (``None``: every mode). The footer
shows the same keys, filtered by :meth:`tui.app.ArbConsole.check_action`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

REPLAY_ONLY = frozenset({"replay"})


@dataclass(frozen=True, slots=True)
class KeyHelp:
    """One key: ``key`` as shown, ``does`` in words, ``modes`` it applies to (None: all)."""

    key: str
    does: str
    modes: frozenset[str] | None = None

    def applies(self, mode: str | None) -> bool:
        """True if this key acts in ``mode`` (an unknown mode shows every key)."""
        return self.modes is None or mode is None or mode in self.modes


KEYS: tuple[KeyHelp, ...] = (
    KeyHelp("a", "arm: the strategy may open and add (from DISARMED, PAUSED, REDUCING, HALTED)"),
    KeyHelp("p", "pause (no entries or adds; hedging and exits go on) / resume"),
    KeyHelp("f", "flatten: asks, then closes every leg reduce-only and goes to REDUCING"),
    KeyHelp(
        "ctrl+k",
        "KILL switch: asks on the main screen (y or ctrl+k again; n or esc cancels), then "
        "cancels pending levels, closes every leg reduce-only and HALTs; works while a dialog "
        "is open",
    ),
    KeyHelp("e", "export this session's audit log to CSV (state directory's exports/)"),
    KeyHelp("space", "replay: pause / continue", REPLAY_ONLY),
    KeyHelp("+ / -", "replay speed up / down", REPLAY_ONLY),
    KeyHelp("v / 1 / 2 / 3", "switch screen / main / ladders, book and equity / charts"),
    KeyHelp(
        "s",
        "funding scanner by net carry: a adds a pair DISARMED (ctrl+p Arm pair), w writes it",
    ),
    KeyHelp("ctrl+p", "command palette: every action by name"),
    KeyHelp("? / F1", "this help"),
    KeyHelp("q", "quit (asks first while exposure is open)"),
)
"""Every key of the console, in the footer's order."""


def keys_for(mode: str | None) -> list[KeyHelp]:
    """The keys that act in ``mode`` (``replay``, ``paper``, ``live``)."""
    return [k for k in KEYS if k.applies(mode)]


def help_table(mode: str | None) -> Table:
    """The keys of ``mode`` as a two-column grid; descriptions wrap under themselves."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="bold cyan")
    grid.add_column(ratio=1)
    for k in keys_for(mode):
        grid.add_row(k.key, Text(k.does, style="bold red" if k.key == "ctrl+k" else ""))
    return grid


class HelpScreen(ModalScreen[None]):
    """The keys of this mode; escape, q, ? or F1 closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close", key_display="esc"),
    ]

    def __init__(self, mode: str | None) -> None:
        super().__init__(id="help")
        self.engine_mode = mode

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(f"Keys ({self.engine_mode or 'any'} mode)", id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(help_table(self.engine_mode), id="help-keys")
            yield Static("esc, q, ? or F1 closes", id="help-hint")

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
