"""Event log: fills, funding payments, state changes, alerts and operator commands.

Appends only entries whose ``seq`` is above the last one shown (the snapshot's ``log`` is a
window of recent entries) and keeps at most ``MAX_LINES`` entries (``3 * MAX_LINES`` screen
lines). Each entry is one row: ``MM-DD HH:MM:SS`` (UTC, as the panel's title says; only
``HH:MM:SS`` in a log under 60 cells), its kind
and its text; a text longer than the panel wraps under itself, so an alert is never cut at
the panel's edge. The kind's colour gives the severity (alerts red, state changes yellow);
an alert's text is red too. When the panel's width changes the kept entries are re-wrapped.
"""

from __future__ import annotations

from collections import deque

from rich.console import Console
from rich.text import Text
from textual import events
from textual.widgets import RichLog

from core.domain.snapshot import EngineSnapshot, LogEntry
from tui import format as fmt

MAX_LINES = 500
"""Entries kept for re-wrapping; the widget keeps at most ``3 * MAX_LINES`` screen lines."""

KIND_LABEL = {
    "fill": "FILL",
    "funding": "FUND",
    "state": "STATE",
    "alert": "ALERT",
    "command": "CMD",
}
"""Short label of each LogEntry.kind (others are shown upper-cased, cut to 5 cells)."""

KIND_STYLE = {
    "fill": "cyan",
    "funding": "green",
    "state": "bold yellow",
    "alert": "bold white on red",
    "command": "magenta",
}
"""Style of each LogEntry.kind's label."""

TEXT_STYLE = {"alert": "bold red", "state": "yellow"}
"""Style of the text of the kinds that need the operator's eye (others: default)."""


def entry_text(entry: LogEntry) -> Text:
    """One log entry as a single line: ``MM-DD HH:MM:SS KIND  text``."""
    t = Text(fmt.log_time(entry.ts_ms) + " ", style="dim")
    t.append(f"{_label(entry.kind):<5}", style=KIND_STYLE.get(entry.kind, ""))
    t.append(" ")
    t.append(entry.text, style=TEXT_STYLE.get(entry.kind, ""))
    return t


def _label(kind: str) -> str:
    return KIND_LABEL.get(kind, kind.upper()[:5])


BURST_DRAWN_MIN = 4
"""Of a burst of new entries, the panel's height of them (at least this many) are drawn."""

MIN_DRAW_WIDTH = 30
"""Below this many cells (a log hidden behind another view has 0) entries are kept, not
drawn: they are drawn at the panel's width once it has one."""

SHORT_TIME_BELOW = 60
"""A log narrower than this many cells shows ``HH:MM:SS`` without the date (the status line
has it), leaving the text six more cells."""


def entry_wrapped(entry: LogEntry, width: int, console: Console, short_time: bool = False) -> Text:
    """One log entry as lines of at most ``width`` cells: time, kind, and the text wrapped
    under itself (drawn once, at the panel's width)."""
    when = fmt.log_time(entry.ts_ms)
    if short_time and len(when) > 6:
        when = when[6:]
    cells = 8 if short_time else 14
    t = Text(f"{when:<{cells}} ", style="dim")
    t.append(f"{_label(entry.kind):<5}", style=KIND_STYLE.get(entry.kind, ""))
    t.append(" ")
    indent = cells + 7
    body = Text(entry.text, style=TEXT_STYLE.get(entry.kind, ""))
    for i, line in enumerate(body.wrap(console, max(8, width - indent), overflow="fold")):
        if i:
            t.append("\n" + " " * indent)
        t.append_text(line)
    return t


class EventLog(RichLog):
    """Append-only log of engine events."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id,
            classes=classes,
            max_lines=3 * MAX_LINES,
            min_width=20,
            wrap=True,
            markup=False,
            auto_scroll=True,
        )
        self.can_focus = False
        self.last_seq = -1
        """Highest ``LogEntry.seq`` written so far."""
        self.entries: deque[LogEntry] = deque(maxlen=MAX_LINES)
        """The entries shown, oldest first (at most ``MAX_LINES``)."""
        self._width = 0
        self._dirty = False

    def on_mount(self) -> None:
        self.border_title = "Log (UTC)"

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width or self._dirty:
            self._width = event.size.width
            self.call_after_refresh(self._rewrite)  # once the new width is laid out

    @property
    def short_time(self) -> bool:
        """True while the log is too narrow for the date (see :data:`SHORT_TIME_BELOW`)."""
        return 0 < self._width < SHORT_TIME_BELOW

    def _rewrite(self) -> None:
        if self.scrollable_content_region.width <= MIN_DRAW_WIDTH:
            return  # hidden again (another view) or not laid out: drawn when it has a width
        self._dirty = False
        self.clear()
        for entry in self.entries:
            self._draw(entry)

    def _draw(self, entry: LogEntry) -> None:
        width = self.scrollable_content_region.width
        if width > MIN_DRAW_WIDTH:
            # width given: rendered at exactly the panel's width (measured against the app
            # console's width, an entry would be re-wrapped and lose its hanging indent)
            self.write(entry_wrapped(entry, width, self.app.console, self.short_time), width=width)
        else:
            # hidden behind another view (width 0) or not laid out yet: nothing is drawn at a
            # width that is not the panel's; the kept entries are drawn when it has one
            self._dirty = True

    def apply(self, snap: EngineSnapshot) -> None:
        """Write the entries of ``snap.log`` that are newer than the last one written. Of a
        burst longer than the panel (a replay flat out logs hundreds of fills a frame), only
        the last panel-full is drawn, after one line counting the others: drawing entries
        that scroll away unseen would hold the console's loop for a tenth of a second."""
        log = snap.log
        if not log or log[-1].seq <= self.last_seq:
            return
        # seq grows by one per entry: the new ones are the last (last seq - last written)
        tail = log[max(0, len(log) - (log[-1].seq - self.last_seq)) :]
        new = [e for e in tail if e.seq > self.last_seq]
        self.entries.extend(new)
        self.last_seq = new[-1].seq
        if self.scrollable_content_region.width <= MIN_DRAW_WIDTH:
            self._dirty = True  # hidden: the kept entries are drawn once it is shown
            return
        burst = max(BURST_DRAWN_MIN, self.size.height)
        if len(new) > burst:
            skipped = len(new) - burst
            self.write(
                Text(
                    f"… {skipped} entries not drawn (a burst; all are in the audit and file logs)",
                    style="dim italic",
                )
            )
            new = new[-burst:]
        for entry in new:
            self._draw(entry)
