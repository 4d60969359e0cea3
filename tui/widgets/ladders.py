"""DCA ladders panel: every level of every leg's ladder.

Each level of each open pair (a pair's ladder goes when its round trip closes): its percentage
delta from the leg's first fill, trigger price (quote currency, to the tick's decimals), size in
the venue's unit (to the lot's decimals) and in USD, and status (``filled``, ``pending``,
``over cap``, ``skipped``, ``cancelled``). A pending level shows its planned size in italics
after ``~`` (base notional x its multiplier at its trigger price, cut to the room the leg's
notional cap leaves after the levels before it; the volatility scale and free capital apply when
it fills); a level the cap leaves no room for says ``over cap`` (dim) instead of pending.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from core.domain.snapshot import EngineSnapshot, LadderLevelView
from tui import format as fmt
from tui.widgets.table import (
    Cell,
    ColumnSpec,
    KeyedTable,
    cut_note,
    right,
    session_symbols,
    widest,
)

LADDER_COLUMNS = (
    ColumnSpec("venue", "Venue", 7),
    ColumnSpec("symbol", "Symbol", 7),
    ColumnSpec("index", "#", 2),
    ColumnSpec("delta", "Δ%", 5),
    ColumnSpec("trigger", "Trigger", 9),
    ColumnSpec("size", "Size", 10),
    ColumnSpec("size_usd", "Size USD", 8),
    ColumnSpec("status", "Status", 9),
)

STATUS_STYLE = {
    "filled": "green",
    "pending": "yellow",
    "over cap": "dim",
    "skipped": "dim",
    "cancelled": "dim",
}
"""Style of LadderLevelView.status."""


def level_row(level: LadderLevelView) -> tuple[str, tuple[Cell, ...]]:
    """Row key and cells of one ladder level."""
    size = fmt.size(level.size, level.lot)
    usd = fmt.usd(level.size_usd, 0)
    style = ""
    if level.planned:  # not sized yet: what the level would add at its trigger
        size, usd, style = f"~{size}", f"~{usd}", "italic"
    return (
        f"{level.venue}:{level.symbol}:{level.index}",
        (
            level.venue,
            level.symbol,
            right(str(level.index)),
            right(fmt.pct(level.delta_pct, 1)),
            right(fmt.price(level.trigger_price, level.tick)),
            right(size, style),
            right(usd, style),
            Text(level.status, style=STATUS_STYLE.get(level.status, "")),
        ),
    )


class LaddersPanel(Vertical):
    """DCA ladder levels of both legs."""

    def compose(self) -> ComposeResult:
        yield KeyedTable(LADDER_COLUMNS, id="ladders-table")

    def on_mount(self) -> None:
        self._table = self.query_one(KeyedTable)
        self._ladders = False
        self.border_title = "DCA ladders"

    def apply(self, snap: EngineSnapshot) -> None:
        """Show ``snap.ladders``."""
        self._table.widen("symbol", widest(session_symbols(snap)))
        self._table.sync([level_row(lv) for lv in snap.ladders])
        self._ladders = bool(snap.ladders)
        self._note_cut()

    def on_resize(self) -> None:
        """Capped or freed (a resize, several pairs): say again how many rows are cut."""
        self.call_after_refresh(self._note_cut)

    def _note_cut(self) -> None:
        cut = cut_note(self.size.height, self._table)
        planned = "~ planned: before the volatility scale and free capital"
        self.border_subtitle = cut or (planned if self._ladders else "no ladder: no pair open")
