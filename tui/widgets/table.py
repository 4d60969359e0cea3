"""A DataTable that is updated by row key, with fixed column widths (HAZARDS H17).

``sync(rows)`` takes the full desired content as ``(row_key, cells)`` pairs and touches only
what changed: changed cells are updated in place, vanished rows removed, new rows added. Column
widths are fixed at construction so an update never triggers a re-measure, which also makes
removing a row right after updating it safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text
"""One cell: plain text or styled Rich text."""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column: ``key`` (stable id), ``label`` (header text), ``width`` in cells."""

    key: str
    label: str
    width: int


def right(text: str, style: str = "") -> Text:
    """A right-justified cell (numbers)."""
    return Text(text, style=style, justify="right")


class KeyedTable(DataTable[Cell]):
    """Read-only table synchronised from snapshots by row key."""

    DEFAULT_CSS = """
    KeyedTable { height: auto; max-height: 100%; }
    """

    def __init__(self, columns: Sequence[ColumnSpec], *, id: str | None = None) -> None:
        super().__init__(
            id=id, show_cursor=False, cursor_type="none", zebra_stripes=False, cell_padding=1
        )
        self.can_focus = False
        self._specs = tuple(columns)
        self._shown: dict[str, tuple[Cell, ...]] = {}

    def on_mount(self) -> None:
        for spec in self._specs:
            self.add_column(spec.label, width=spec.width, key=spec.key)

    @property
    def row_keys(self) -> list[str]:
        """Row keys currently shown, in display order."""
        return list(self._shown)

    def sync(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Make the table show exactly ``rows`` (in that order), changing only what differs."""
        wanted = {key: tuple(cells) for key, cells in rows}
        for key in [k for k in self._shown if k not in wanted]:
            self.remove_row(key)
            del self._shown[key]
        kept = [k for k in self._shown if k in wanted]
        order_ok = kept == [k for k in wanted if k in self._shown]
        if not order_ok:
            # Rows moved relative to each other (rare): rebuild once rather than shuffle.
            self.clear()
            self._shown.clear()
        for key, cells in wanted.items():
            old = self._shown.get(key)
            if old is None:
                self.add_row(*cells, key=key)
            elif old != cells:
                for spec, before, after in zip(self._specs, old, cells, strict=True):
                    if before != after:
                        self.update_cell(key, spec.key, after)
            self._shown[key] = cells
        if list(self._shown) != list(wanted):
            # New rows were appended after rows that must follow them: rebuild in order.
            self.clear()
            self._shown.clear()
            for key, cells in wanted.items():
                self.add_row(*cells, key=key)
                self._shown[key] = cells

    def cell_text(self, row_key: str, column_key: str) -> str:
        """Plain text of one cell (for tests and debugging)."""
        value = self.get_cell(row_key, column_key)
        return value.plain if isinstance(value, Text) else str(value)
