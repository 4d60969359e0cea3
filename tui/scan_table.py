"""A virtual table for the scanner screen: rows are plain (text, sort value) cells kept by row
key; only the lines on screen are rendered (Textual's line API), so a new scan of 500 rows costs
one list replacement and one refresh, not a widget refresh per changed cell.

The header stays on the first line while the rows scroll. The cursor follows its row key
across updates and sorts (a row that goes away moves it to the same index). Keys: up/down,
page up/down, home/end; a click on the header posts :class:`ScanTable.HeaderSelected`, a click
on a row moves the cursor there; every cursor move posts :class:`ScanTable.RowHighlighted`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = tuple[str, float | None]
"""(text shown, sort value: None for text columns or an unknown figure)."""

GAP = 2
HEADER = Style(bold=True, underline=True)
CURSOR = Style(reverse=True)
ZEBRA = Style(dim=False, bgcolor="grey11")
CAP = Style(bold=True, color="red")


class ScanTable(ScrollView, can_focus=True):
    """See the module docstring. ``columns``: (key, label, right-aligned)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor(-1000000)", "First", show=False),
        Binding("end", "cursor(1000000)", "Last", show=False),
    ]

    class RowHighlighted(Message):
        """The cursor is on the row ``key`` (None: the table is empty)."""

        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    class HeaderSelected(Message):
        """The header of column ``column`` (its key) was clicked."""

        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    def __init__(self, columns: Sequence[tuple[str, str, bool]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self.index = {key: i for i, (key, _, _) in enumerate(self.columns)}
        self.order: list[str] = []
        self.rows: Mapping[str, Sequence[Cell]] = {}
        self.cursor = 0
        self.widths = [len(label) for _, label, _ in self.columns]
        self.shown_ix = list(range(len(self.columns)))
        """Indexes of the columns shown, left to right (:meth:`show_only`)."""

    # -- data ----------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.order)

    @property
    def cursor_key(self) -> str | None:
        """The row key under the cursor (None when empty)."""
        return self.order[self.cursor] if self.order else None

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns shown, left to right."""
        return [self.columns[i][0] for i in self.shown_ix]

    def columns_in_view(self) -> int:
        """How many of the shown columns fit the table's width whole (all of them before it
        is laid out); the others are reached by scrolling (left/right)."""
        width = self.size.width
        if width <= 0:
            return len(self.shown_ix)
        right = 0
        for n, i in enumerate(self.shown_ix):
            right += self.widths[i]
            if right > width:
                return n
            right += GAP
        return len(self.shown_ix)

    def show_only(self, keys: Sequence[str] | None) -> None:
        """Show only the columns ``keys`` (in the table's order); None shows them all."""
        visible = [i for i, (k, _, _) in enumerate(self.columns) if keys is None or k in keys]
        if visible != self.shown_ix:
            self.shown_ix = visible
            self._fit_virtual_size()
            self.refresh()

    def _fit_virtual_size(self) -> None:
        shown = [self.widths[i] for i in self.shown_ix]
        self.virtual_size = Size(sum(shown) + GAP * len(shown), len(self.order) + 1)

    def cell_text(self, key: str, column: str) -> str:
        """The text of one cell."""
        return self.rows[key][self.index[column]][0]

    def set_rows(self, rows: Mapping[str, Sequence[Cell]], order: Sequence[str]) -> None:
        """Show ``rows`` (by key) in ``order``; the cursor stays on its row's key."""
        was = self.cursor_key
        self.rows = rows
        self.order = list(order)
        widths = [len(label) for _, label, _ in self.columns]
        for cells in rows.values():
            for i, (text, _) in enumerate(cells):
                if len(text) > widths[i]:
                    widths[i] = len(text)
        self.widths = widths
        self._fit_virtual_size()
        if was is not None and was in rows:
            self.cursor = self.order.index(was)
        self.cursor = max(0, min(self.cursor, len(self.order) - 1))
        self.refresh()
        if self.cursor_key != was:
            self.post_message(self.RowHighlighted(self.cursor_key))

    # -- rendering -----------------------------------------------------------------------

    def _line(self, cells: Sequence[Cell] | None, style: Style) -> list[Segment]:
        segs: list[Segment] = []
        for i in self.shown_ix:
            _, label, right = self.columns[i]
            text = label if cells is None else cells[i][0]
            w = self.widths[i]
            padded = text.rjust(w) if right else text.ljust(w)
            if cells is not None and text.endswith(" CAP"):
                cut = padded.rindex(" CAP")
                segs.append(Segment(padded[:cut], style))
                segs.append(Segment(" CAP", style + CAP))
                segs.append(Segment(padded[cut + 4 :] + " " * GAP, style))
            else:
                segs.append(Segment(padded + " " * GAP, style))
        return segs

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            segs = self._line(None, HEADER)
        else:
            i = scroll_y + y - 1
            if i >= len(self.order):
                return Strip.blank(width)
            style = CURSOR if i == self.cursor else (ZEBRA if i % 2 else Style())
            segs = self._line(self.rows[self.order[i]], style)
        strip = Strip(segs)
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width)

    # -- cursor and mouse ----------------------------------------------------------------

    def _move(self, row: int) -> None:
        if not self.order:
            return
        row = max(0, min(row, len(self.order) - 1))
        if row == self.cursor:
            return
        self.cursor = row
        body = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + body:
            self.scroll_to(y=row - body + 1, animate=False)
        self.refresh()
        self.post_message(self.RowHighlighted(self.cursor_key))

    def action_cursor(self, step: int) -> None:
        """Move the cursor ``step`` rows."""
        self._move(self.cursor + step)

    def action_page(self, pages: int) -> None:
        """Move the cursor a screen of rows."""
        self._move(self.cursor + pages * max(1, self.size.height - 1))

    def on_click(self, event: events.Click) -> None:
        scroll_x, scroll_y = self.scroll_offset
        if event.y == 0:
            x = event.x + scroll_x
            for i in self.shown_ix:
                w = self.widths[i]
                if x < w + GAP:
                    self.post_message(self.HeaderSelected(self.columns[i][0]))
                    return
                x -= w + GAP
            return
        self._move(scroll_y + event.y - 1)
