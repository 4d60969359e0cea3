"""Feeds panel (paper and live modes): one line per market-data stream with its state, how
long a stale or lost stream has been silent, messages and reconnects since start. Hidden data
(replays) shows nothing. The engine opens nothing on a venue with a line that is not live."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.snapshot import EngineSnapshot, FeedView

STATE_STYLE = {"live": "green", "connecting": "yellow", "stale": "bold white on red",
               "down": "bold red"}  # fmt: skip


def feed_line(f: FeedView) -> Text:
    """``binance  btcusdt@markPrice@1s  STALE 6.2s   1,204 msg  2 reconn``."""
    t = Text(f"{f.venue:<8}{f.stream:<24}")
    state = f.state.upper()
    if f.state != "live" and f.stale_for_ms:
        state += f" {f.stale_for_ms / 1000:.1f}s"
    t.append(f"{state:<14}", style=STATE_STYLE.get(f.state, ""))
    t.append(f"{f.messages:>9,} msg {f.reconnects:>3} reconn", style="dim")
    return t


def feeds_text(snap: EngineSnapshot) -> Text:
    """All streams of ``snap``, one a line (empty without live feeds)."""
    out = Text()
    for i, f in enumerate(snap.feeds):
        if i:
            out.append("\n")
        out.append_text(feed_line(f))
    return out


class FeedsPanel(Static):
    """Live feed health; ``apply(snapshot)`` like the other panels."""

    DEFAULT_CSS = """
    FeedsPanel { height: auto; width: 100%; }
    """

    def apply(self, snap: EngineSnapshot) -> None:
        """Show the streams of ``snap``; hidden when there are none (replays)."""
        self.display = bool(snap.feeds)
        self.update(feeds_text(snap))
