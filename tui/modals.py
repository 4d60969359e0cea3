"""Confirmations for destructive or exposure-leaving actions (flatten, quit: a modal; the
kill switch: an inline bar on the main screen).

A :class:`ConfirmModal` dismisses with True on ``y`` and with False on ``n`` or escape. It
does no work itself: the caller's callback submits the command. The kill switch asks with a
:class:`KillBar` instead: no screen is pushed or popped, so the confirming key sends the Kill
in its own handler and HALTED shows without waiting on a screen switch (issue 13, Speed).
Nothing here blocks or awaits the engine.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

KILL_QUESTION = (
    "KILL SWITCH: cancel every open order, flatten both legs reduce-only and HALT?   "
    "y or ctrl+k: confirm   n or esc: cancel"
)
"""The kill switch's question (the app binds the keys)."""


class KillBar(Static):
    """The kill switch's question, in red at the bottom of the main screen (hidden until
    ctrl+k; it takes the footer's place and wraps at narrow widths)."""

    DEFAULT_CSS = """
    KillBar {
        dock: bottom; height: auto; width: 100%; display: none;
        background: $error; color: $text; text-style: bold; padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(KILL_QUESTION, id=id)


class ConfirmModal(ModalScreen[bool]):
    """Ask one yes/no question. ``kind`` names it (``"flatten"``, ``"kill"``, ``"quit"``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, kind: str, title: str, message: str, *, danger: bool = False) -> None:
        super().__init__(id=f"confirm-{kind}")
        self.kind = kind
        """What this modal confirms; the app uses it to recognise the kill modal."""
        self._title = title
        self._message = message
        self._danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="-danger" if self._danger else ""):
            yield Static(self._title, id="confirm-title")
            yield Static(self._message, id="confirm-message")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", id="yes", variant="error" if self._danger else "primary")
                yield Button("No (n, esc)", id="no")

    def on_mount(self) -> None:
        # Focus "No" so that an accidental Enter cancels rather than confirms.
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        """Close with the answer (True = confirmed)."""
        self.dismiss(yes)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")
