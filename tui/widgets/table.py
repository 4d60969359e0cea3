"""A read-only table updated by row key, with fixed column widths (HAZARDS H17), drawn line by
line (Textual's line API).

``sync(rows)`` takes the full desired content as ``(row_key, cells)`` pairs and touches only
what changed: a changed row is re-rendered (one line), vanished rows are removed, new rows
added. Column widths are fixed at construction, so an update never re-measures anything.

Why not Textual's ``DataTable``: any cell update there drops the render cache of every cell
(its cache key holds the table's update count), so each snapshot re-rendered every cell of
every table through Rich (about 70 % of the console's own time while a replay ran flat out,
issue 13 "Speed"). Here each row is kept as rendered segments and only a changed row is
rendered again; drawing a line is a list lookup. The picture is DataTable's: a bold header
on the panel colour, one cell of padding either side of each column, text cut with an
ellipsis at the column's width, numbers right-justified.

A table may have a compact column set (``compact=`` specs, a subset of the columns' keys with
their own labels and widths, for narrow terminals): ``set_compact(True)`` shows only those,
and rows keep carrying every cell (the hidden ones are simply not shown), so switching back
needs no new data.

Widths follow the session, not the data of one frame: ``widen(key, cells)`` makes a column of
the full set at least that wide (a panel widens its symbol column to the session's longest
symbol, e.g. ``BTCUSD_PERP``; the compact set keeps its widths and cuts with an ellipsis,
deliberately), and the ``spare`` columns (keys, least needed first) are left out of the full
set while it is wider than the table, so that a widened column never pushes the last ones off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from core.domain.snapshot import EngineSnapshot

Cell = str | Text
"""One cell: plain text or styled Rich text."""

PADDING = 1
"""Blank cells either side of every column (as DataTable's ``cell_padding=1``)."""

COMPACT_BELOW_COLUMNS = 110
"""Below this terminal width the console's tables use their compact column sets."""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column: ``key`` (stable id), ``label`` (header text), ``width`` in cells."""

    key: str
    label: str
    width: int


def right(text: str, style: str = "") -> Text:
    """A right-justified cell (numbers)."""
    return Text(text, style=style, justify="right")


class KeyedTable(Widget):
    """Read-only table synchronised from snapshots by row key (see the module docstring)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keyed-table--header"}

    DEFAULT_CSS = """
    KeyedTable {
        height: auto;
        max-height: 100%;
        background: $surface;
        color: $foreground;
    }
    KeyedTable > .keyed-table--header {
        text-style: bold;
        background: $panel;
        color: $foreground;
    }
    KeyedTable:ansi > .keyed-table--header {
        background: ansi_bright_blue;
        color: ansi_default;
    }
    """

    def __init__(
        self,
        columns: Sequence[ColumnSpec],
        *,
        id: str | None = None,
        compact: Sequence[ColumnSpec] | None = None,
        spare: Sequence[str] = (),
    ) -> None:
        super().__init__(id=id)
        self.can_focus = False
        self._all_specs = tuple(columns)
        self._index = {spec.key: i for i, spec in enumerate(self._all_specs)}
        self._compact_specs = tuple(compact) if compact is not None else None
        self._specs = self._all_specs
        self._spare = tuple(spare)
        self._min_widths: dict[str, int] = {}
        self._room = 0
        """Cells the table has (0 until laid out): the full set drops ``spare`` columns to fit."""
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._full: dict[str, tuple[Cell, ...]] = {}
        self._lines: dict[str, list[Segment]] = {}
        self._order: list[str] = []
        self._header: list[Segment] | None = None
        self.compact = False
        """True while only the compact column set is shown."""

    # -- what is shown -------------------------------------------------------------------

    @property
    def row_keys(self) -> list[str]:
        """Row keys currently shown, in display order."""
        return list(self._order)

    @property
    def row_count(self) -> int:
        """Rows shown (the header not counted)."""
        return len(self._order)

    @property
    def column_keys(self) -> list[str]:
        """The keys of the columns shown, left to right."""
        return [spec.key for spec in self._specs]

    def get_row(self, row_key: str) -> tuple[Cell, ...]:
        """The cells shown in row ``row_key`` (KeyError if there is none)."""
        return self._shown[row_key]

    def cell_text(self, row_key: str, column_key: str) -> str:
        """Plain text of one cell (for tests and debugging)."""
        value = self._shown[row_key][self.column_keys.index(column_key)]
        return value.plain if isinstance(value, Text) else str(value)

    # -- updates -------------------------------------------------------------------------

    def _pick(self, cells: Sequence[Cell]) -> tuple[Cell, ...]:
        """The shown cells of a full row."""
        return tuple(cells[self._index[spec.key]] for spec in self._specs)

    def set_compact(self, compact: bool) -> None:
        """Show only the compact columns (True) or all of them (False)."""
        compact = compact and self._compact_specs is not None
        if compact == self.compact:
            return
        self.compact = compact
        self._respec()

    def widen(self, key: str, cells: int) -> None:
        """Make column ``key`` of the full set at least ``cells`` wide (never narrower than
        its spec); the compact set keeps its own widths."""
        if cells > self._min_widths.get(key, 0):
            self._min_widths[key] = cells
            self._respec()

    def on_resize(self) -> None:
        """The table's width changed: the full set drops or takes back its spare columns."""
        if self.size.width != self._room:
            self._room = self.size.width
            self._respec()

    def _wanted(self) -> tuple[ColumnSpec, ...]:
        """The columns to show: the compact set, or the full set widened and without the
        spare columns it needs to leave out to fit :attr:`_room`."""
        if self.compact and self._compact_specs is not None:
            return self._compact_specs
        specs = tuple(
            ColumnSpec(s.key, s.label, max(s.width, self._min_widths.get(s.key, 0)))
            for s in self._all_specs
        )
        for key in self._spare:
            if not self._room or sum(s.width + 2 * PADDING for s in specs) <= self._room:
                break
            specs = tuple(s for s in specs if s.key != key)
        return specs

    def _respec(self) -> None:
        specs = self._wanted()
        if specs == self._specs:
            return
        self._specs = specs
        self._header = None
        rows = list(self._full.items())
        self._shown.clear()
        self._lines.clear()
        self.sync(rows)
        self.refresh(layout=True)

    def sync(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Make the table show exactly ``rows`` (in that order), re-rendering only the rows
        whose cells differ from what is shown."""
        self._full = {key: tuple(cells) for key, cells in rows}
        order = list(self._full)
        changed: list[int] = []
        shown: dict[str, tuple[Cell, ...]] = {}
        for y, key in enumerate(order):
            cells = self._pick(self._full[key])
            shown[key] = cells
            if self._shown.get(key) != cells:
                self._lines.pop(key, None)  # rendered again when next drawn
                changed.append(y)
        for key in [k for k in self._lines if k not in shown]:
            del self._lines[key]
        self._shown = shown
        if order != self._order:
            self._order = order
            self.refresh(layout=True)  # rows came, went or moved: the height may change
        elif changed:
            width = max(1, self.size.width)
            self.refresh(*(Region(0, y + 1, width, 1) for y in changed))  # 0: the header

    # -- drawing -------------------------------------------------------------------------

    def _render_row(self, cells: Sequence[Cell]) -> list[Segment]:
        """One row as segments: each cell cut or padded to its column, ``PADDING`` either
        side, the cell's own style kept (the widget's base style is laid under at draw)."""
        console = self.app.console
        pad = " " * PADDING
        out: list[Segment] = []
        for spec, cell in zip(self._specs, cells, strict=True):
            text = cell.copy() if isinstance(cell, Text) else Text(cell)
            if text.cell_len > spec.width:
                text.truncate(spec.width, overflow="ellipsis")
            gap = spec.width - text.cell_len
            if text.justify == "right":
                text.pad_left(gap)
            elif text.justify == "center":
                text.pad_left(gap // 2)
                text.pad_right(gap - gap // 2)
            else:
                text.pad_right(gap)
            out.append(Segment(pad))
            # Text.render leaves out the text's own style (its __rich_console__ adds it)
            own = console.get_style(text.style) if text.style else None
            out.extend(Segment.apply_style(text.render(console), own))
            out.append(Segment(pad))
        return out

    def _header_line(self) -> list[Segment]:
        if self._header is None:
            self._header = self._render_row([Text(spec.label) for spec in self._specs])
        return self._header

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return sum(spec.width + 2 * PADDING for spec in self._specs)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1 + len(self._order)

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        width = self.size.width
        if y == 0:
            style: Style = base + self.get_component_rich_style("keyed-table--header")
            segments = self._header_line()
        elif 0 < y <= len(self._order):
            style = base
            key = self._order[y - 1]
            if key not in self._lines:
                self._lines[key] = self._render_row(self._shown[key])
            segments = self._lines[key]
        else:
            return Strip.blank(width, base)
        return Strip(segments).apply_style(style).crop_extend(0, width, style)

    def notify_style_update(self) -> None:
        """The theme changed: the header's style is read again at the next draw."""
        super().notify_style_update()
        self._header = None


def cut_note(height: int, *tables: KeyedTable) -> str:
    """A panel's note when its tables, stacked in ``height`` lines (the panel's content
    height; 0 = not laid out), hold more rows than it shows (a panel capped on a short
    terminal; a table hidden there counts whole): ``"+N rows: a taller terminal shows them"``,
    else ``""``."""
    if height <= 0:
        return ""
    hidden = sum(1 + t.row_count for t in tables if not t.display)
    wanted = sum(1 + t.row_count for t in tables if t.display)
    cut = hidden + max(0, wanted - height)
    return f"+{cut} rows: a taller terminal shows them" if cut else ""


def session_symbols(snap: EngineSnapshot) -> list[str]:
    """Every symbol the snapshot shows (funding, legs, ladders): a symbol column's width."""
    return [
        *(f.symbol for f in snap.funding),
        *(leg.symbol for leg in snap.legs),
        *(lv.symbol for lv in snap.ladders),
    ]


def widest(texts: Iterable[str]) -> int:
    """Cells of the longest of ``texts`` (0 for none): what a column must be to show them."""
    return max((len(t) for t in texts), default=0)
