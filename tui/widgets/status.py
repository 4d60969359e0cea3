"""Status line (top of the screen): mode, simulated/wall time (UTC ISO from the snapshot's
``ts_ms``), replay progress (percent of events) and speed (multiple of wall time, or ``max``),
trade count, trading state, and an alert when any pair is in leg-risk. A replay that stopped
on a bad line shows ``FAILED`` and ``replay failed at FILE:LINE: reason`` at the end."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.domain.snapshot import EngineSnapshot
from tui import format as fmt
from tui.widgets.risk import state_text


def status_text(snap: EngineSnapshot | None, compact: bool = False) -> Text:
    """The status line for ``snap`` (None: nothing received yet). Most important first, so a
    narrow terminal cuts the least useful end: state, alerts, mode and time, replay, trades.
    ``compact`` (below 110 columns) drops the words that only label (73 cells at most without
    a leg-risk alert)."""
    t = Text(" arbtui ", style="bold reverse")
    if snap is None:
        t.append("  waiting for the engine…", style="dim")
        return t
    t.append(" ")
    t.append_text(state_text(snap.risk.trading_state))
    for p in snap.pairs:
        if p.status == "leg-risk":
            t.append(
                f" LEG-RISK {p.name} {fmt.btc(p.unhedged_btc)} BTC ", style="bold white on red"
            )
    if snap.risk.data_stale:
        t.append(" STALE DATA ", style="bold white on red")
    t.append(f" {snap.mode.upper()} ", style="bold")
    t.append(fmt.ts_iso(snap.ts_ms))
    rep = snap.replay
    if rep is not None:
        if rep.failed:
            word, style = "FAILED", "bold white on red"
        elif rep.finished:
            word, style = "done", "dim"
        elif rep.paused:
            word, style = "paused", "bold black on yellow"
        else:
            word, style = "running", "green"
        t.append(" " if compact else "  replay ")
        t.append(fmt.progress(rep.events_done, rep.events_total))
        t.append(" ")
        t.append(word, style=style)
        t.append(f" {fmt.speed(rep.speed)}")
    t.append(f" trades {snap.trades}" if compact else f"  trades {snap.trades}")
    if rep is not None and rep.failed:
        t.append(f" {rep.failed}", style="bold red")
    return t


class StatusLine(Static):
    """One line of engine status."""

    DEFAULT_CSS = """
    StatusLine { height: 1; width: 100%; }
    """

    compact = False
    """Below 110 columns: the short form of :func:`status_text`."""

    _snap: EngineSnapshot | None = None
    _shown: Text | None = None

    def apply(self, snap: EngineSnapshot) -> None:
        """Show the status of ``snap``: redrawn only when its text changed, and never laid
        out again (one line high whatever it says)."""
        self._snap = snap
        text = status_text(snap, self.compact)
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)

    def set_compact(self, compact: bool) -> None:
        """Use the short form (narrow terminal)."""
        if compact != self.compact:
            self.compact = compact
            if self._snap is not None:
                self.apply(self._snap)
