"""A DataTable that is updated by row key, with fixed column widths (HAZARDS H17).

``sync(rows)`` takes the full desired content as ``(row_key, cells)`` pairs and touches only
what changed: changed cells are updated in place, vanished rows removed, new rows added. Column
widths are fixed at construction so an update never triggers a re-measure, which also makes
removing a row right after updating it safe.

A table may have a compact column set (``compact=`` specs, a subset of the columns' keys with
their own labels and widths, for narrow terminals):
``set_compact(True)`` rebuilds the columns once with only those, and rows keep carrying every
cell (the hidden ones are simply not shown), so switching back needs no new data.
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

    def __init__(
        self,
        columns: Sequence[ColumnSpec],
        *,
        id: str | None = None,
        compact: Sequence[ColumnSpec] | None = None,
    ) -> None:
        super().__init__(
            id=id, show_cursor=False, cursor_type="none", zebra_stripes=False, cell_padding=1
        )
        self.can_focus = False
        self._all_specs = tuple(columns)
        self._compact_specs = tuple(compact) if compact is not None else None
        self._specs = self._all_specs
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._full: dict[str, tuple[Cell, ...]] = {}
        self.compact = False
        """True while only the compact column set is shown."""

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for spec in self._specs:
            self.add_column(spec.label, width=spec.width, key=spec.key)

    def _pick(self, cells: Sequence[Cell]) -> tuple[Cell, ...]:
        """The shown cells of a full row (all cells when not compact)."""
        if self._specs is self._all_specs:
            return tuple(cells)
        index = {spec.key: i for i, spec in enumerate(self._all_specs)}
        return tuple(cells[index[spec.key]] for spec in self._specs)

    def set_compact(self, compact: bool) -> None:
        """Show only the compact columns (True) or all of them (False); rebuilds once."""
        compact = compact and self._compact_specs is not None
        if compact == self.compact:
            return
        self.compact = compact
        self._specs = (self._compact_specs or self._all_specs) if compact else self._all_specs
        rows = dict(self._full)
        self.clear(columns=True)
        self._shown.clear()
        self._full.clear()
        if self.is_mounted:
            self._add_columns()
        self.sync(list(rows.items()))

    @property
    def row_keys(self) -> list[str]:
        """Row keys currently shown, in display order."""
        return list(self._shown)

    def sync(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Make the table show exactly ``rows`` (in that order), changing only what differs."""
        self._full = {key: tuple(cells) for key, cells in rows}
        wanted = {key: self._pick(cells) for key, cells in rows}
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
