"""Event log: fills, funding payments, state changes, alerts and operator commands.

Appends only entries whose ``seq`` is above the last one shown (the snapshot's ``log`` is a
window of recent entries) and keeps at most ``MAX_LINES`` lines. Times are UTC.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from core.domain.snapshot import EngineSnapshot, LogEntry
from tui import format as fmt

MAX_LINES = 500
"""Lines kept in the widget; older lines are dropped."""

KIND_STYLE = {
    "fill": "cyan",
    "funding": "green",
    "state": "bold yellow",
    "alert": "bold red",
    "command": "magenta",
}
"""Style of each LogEntry.kind."""


def entry_text(entry: LogEntry) -> Text:
    """One log line: ``MM-DD HH:MM KIND    text``."""
    t = Text(fmt.hhmm(entry.ts_ms) + " ", style="dim")
    t.append(f"{entry.kind.upper():<8}", style=KIND_STYLE.get(entry.kind, ""))
    t.append(entry.text)
    return t


class EventLog(RichLog):
    """Append-only log of engine events."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id, classes=classes, max_lines=MAX_LINES, wrap=False, markup=False, auto_scroll=True
        )
        self.can_focus = False
        self.last_seq = -1
        """Highest ``LogEntry.seq`` written so far."""

    def on_mount(self) -> None:
        self.border_title = "Log"

    def apply(self, snap: EngineSnapshot) -> None:
        """Write the entries of ``snap.log`` that are newer than the last one written."""
        for entry in snap.log:
            if entry.seq > self.last_seq:
                self.write(entry_text(entry))
                self.last_seq = entry.seq
