"""Banner at the top of the screen: what needs the operator now.

One line per :class:`~core.domain.snapshot.Alarm` of the snapshot (HALTED and why, a replay
that stopped on a bad line, an audit log that cannot write, a position mismatch, a venue not
reached yet, stale market data), most urgent first, in red (a venue still connecting in
yellow), right under the status line. A long alarm wraps. Hidden while there is nothing to
say, so it takes no row from the panels then.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.domain.snapshot import Alarm, EngineSnapshot

LABEL = {
    "halted": "HALTED",
    "replay": "REPLAY STOPPED",
    "audit": "AUDIT LOG",
    "mismatch": "MISMATCH",
    "stale": "STALE DATA",
    "connecting": "CONNECTING",
}
"""The badge of each Alarm.kind."""

STYLE = {"connecting": "bold black on yellow"}
"""Style of an alarm's line by kind (default: white on red)."""

DEFAULT_STYLE = "bold white on dark_red"

MAX_SHOWN = 4
"""Alarms shown at most (the rest are counted on the last line; the log has them all)."""


def banner_text(alarms: tuple[Alarm, ...]) -> Text:
    """The banner's lines for ``alarms`` (empty text for none)."""
    t = Text()
    for i, alarm in enumerate(alarms[:MAX_SHOWN]):
        if i:
            t.append("\n")
        style = STYLE.get(alarm.kind, DEFAULT_STYLE)
        t.append(f" {LABEL.get(alarm.kind, alarm.kind.upper())} ", style=f"{style} reverse")
        t.append(f" {alarm.text} ", style=style)
    if len(alarms) > MAX_SHOWN:
        t.append(f"\n +{len(alarms) - MAX_SHOWN} more in the log", style=DEFAULT_STYLE)
    return t


class Banner(Static):
    """The alarms of the latest snapshot; hidden when there are none."""

    DEFAULT_CSS = """
    Banner { height: auto; max-height: 6; width: 100%; display: none; }
    """

    _alarms: tuple[Alarm, ...] = ()

    def apply(self, snap: EngineSnapshot) -> None:
        """Show ``snap.alarms`` (redrawn only when they change)."""
        if snap.alarms == self._alarms:
            return
        self._alarms = snap.alarms
        self.update(banner_text(snap.alarms))
        self.display = bool(snap.alarms)

    @property
    def alarms(self) -> tuple[Alarm, ...]:
        """The alarms on screen."""
        return self._alarms
