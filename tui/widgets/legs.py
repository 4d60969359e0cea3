"""Legs panel: one row per position.

Quantity in the instrument's own unit (BTC, or contracts for BitMEX) to its lot's decimals and
as BTC delta, entry price and mark in quote currency to its tick's decimals, unrealised PnL and
funding received (> 0) minus paid, both in the leg's settlement currency (USDT or XBT) and in
USD at mark. The symbol column is as wide as the session's longest symbol (compact: 7 cells,
cut with an ellipsis).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from core.domain.snapshot import EngineSnapshot, LegView
from tui import format as fmt
from tui.widgets.table import Cell, ColumnSpec, KeyedTable, cut_note, right, session_symbols, widest

LEG_COLUMNS = (
    ColumnSpec("venue", "Venue", 7),
    ColumnSpec("symbol", "Symbol", 7),
    ColumnSpec("qty", "Qty (unit)", 13),
    ColumnSpec("qty_btc", "Qty BTC", 7),
    ColumnSpec("entry", "Entry", 9),
    ColumnSpec("mark", "Mark", 9),
    ColumnSpec("upnl", "uPnL", 13),
    ColumnSpec("upnl_usd", "uPnL USD", 9),
    ColumnSpec("funding", "Funding", 13),
    ColumnSpec("funding_usd", "Fund USD", 9),
)

LEG_COMPACT = (
    ColumnSpec("venue", "Venue", 7),
    ColumnSpec("symbol", "Symbol", 7),
    ColumnSpec("qty", "Qty (unit)", 12),
    ColumnSpec("entry", "Entry", 9),
    ColumnSpec("mark", "Mark", 9),
    ColumnSpec("upnl_usd", "uPnL USD", 9),
    ColumnSpec("funding_usd", "Fund USD", 9),
)
"""Leg columns below 110 terminal columns (amounts in USD only: 76 cells)."""

LEG_SPARE = ("qty_btc",)
"""Left out of the full set when the session's longest symbol would push it past the panel
(120 columns with ``BTCUSD_PERP``: the drawdown panel gives each pair's net delta)."""

_UNIT_SHORT = {"contracts": "ct", "contract": "ct"}


def _style(value: float) -> str:
    return "" if value == 0 else ("green" if value > 0 else "red")


def leg_row(leg: LegView) -> tuple[str, tuple[Cell, ...]]:
    """Row key and cells of one leg."""
    unit = _UNIT_SHORT.get(leg.unit.lower(), leg.unit)
    cur = leg.settle_currency
    return (
        f"{leg.venue}:{leg.symbol}",
        (
            leg.venue,
            leg.symbol,
            right(f"{fmt.qty(leg.qty, leg.unit, leg.lot)} {unit}"),
            right(fmt.btc(leg.qty_btc) if leg.asset == "BTC" else "—"),  # an XRP leg: no BTC
            right(fmt.price(leg.entry_price, leg.tick)),
            right(fmt.price(leg.mark, leg.tick)),
            right(f"{fmt.amount(leg.upnl, cur)} {cur}", _style(leg.upnl)),
            right(fmt.usd(leg.upnl_usd, sign=True), _style(leg.upnl_usd)),
            right(f"{fmt.amount(leg.funding, cur)} {cur}", _style(float(leg.funding))),
            right(fmt.usd(leg.funding_usd, sign=True), _style(leg.funding_usd)),
        ),
    )


class LegsPanel(Vertical):
    """Open positions, one row per venue and symbol."""

    def compose(self) -> ComposeResult:
        yield KeyedTable(LEG_COLUMNS, id="legs-table", compact=LEG_COMPACT, spare=LEG_SPARE)

    def on_mount(self) -> None:
        self._table = self.query_one(KeyedTable)
        self._legs = False
        self.border_title = "Legs"

    def set_compact(self, compact: bool) -> None:
        """Narrow terminal: amounts in USD only, no BTC delta column."""
        self.query_one(KeyedTable).set_compact(compact)

    def apply(self, snap: EngineSnapshot) -> None:
        """Show ``snap.legs``, open ones first (a short terminal cuts the flat ones before
        any position); the border subtitle says when there is no position."""
        self._table.widen("symbol", widest(session_symbols(snap)))
        legs = sorted(snap.legs, key=lambda leg: leg.qty == 0)  # stable: the order within
        self._table.sync([leg_row(leg) for leg in legs])
        self._legs = bool(snap.legs)
        self._note_cut()

    def on_resize(self) -> None:
        """Capped or freed (a resize, several pairs): say again how many rows are cut."""
        self.call_after_refresh(self._note_cut)

    def _note_cut(self) -> None:
        cut = cut_note(self.size.height, self._table)
        self.border_subtitle = cut or ("" if self._legs else "no position")
