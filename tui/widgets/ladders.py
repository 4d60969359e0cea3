"""DCA ladders panel: every level of every leg's ladder.

Each level: its percentage delta from the leg's first fill, trigger price (quote currency),
size in the venue's unit and in USD, and status (``filled``, ``pending``, ``skipped``,
``cancelled``). A pending level shows its planned size in italics after ``~`` (base notional x
its multiplier at its trigger price; the volatility scale and the caps apply when it fills).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from core.domain.snapshot import EngineSnapshot, LadderLevelView
from tui import format as fmt
from tui.widgets.table import Cell, ColumnSpec, KeyedTable, right

LADDER_COLUMNS = (
    ColumnSpec("venue", "Venue", 7),
    ColumnSpec("symbol", "Symbol", 7),
    ColumnSpec("index", "#", 2),
    ColumnSpec("delta", "Δ%", 5),
    ColumnSpec("trigger", "Trigger", 9),
    ColumnSpec("size", "Size", 8),
    ColumnSpec("size_usd", "Size USD", 8),
    ColumnSpec("status", "Status", 9),
)

STATUS_STYLE = {"filled": "green", "pending": "yellow", "skipped": "dim", "cancelled": "dim"}
"""Style of LadderLevelView.status."""


def level_row(level: LadderLevelView) -> tuple[str, tuple[Cell, ...]]:
    """Row key and cells of one ladder level."""
    size = fmt.size(level.size)
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
            right(fmt.price(level.trigger_price)),
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
        self.border_title = "DCA ladders"

    def apply(self, snap: EngineSnapshot) -> None:
        """Show ``snap.ladders``."""
        self._table.sync([level_row(lv) for lv in snap.ladders])
