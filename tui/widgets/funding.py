"""Funding panel: each venue's rate and each pair's spread.

Venue rows: the rate for the next settlement per its own interval, that interval, whether the
rate is ``fixed`` (BitMEX fundingRate), an ``est``imate or the ``last`` settled rate standing in
(FundingView.next_rate_kind), the rate per hour and as APR, the countdown to the venue's next
settlement (from the snapshot's time) and the last settled rate. Rates are fractions shown in
percent. Pair rows: the spread per hour (short venue minus long venue) and as APR, its fast and
slow EMAs (per hour), the basis and the net edge in percent, and the status; a pair in
``leg-risk`` is shown in red with its unhedged size in BTC. A flat pair's status says how far
its edge is from the entry threshold and how many observations an entry still needs
(:func:`flat_status`), so the engine is seen thinking from its first observation.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from core.domain.snapshot import EngineSnapshot, FundingView, PairView
from tui import format as fmt
from tui.widgets.table import Cell, ColumnSpec, KeyedTable, cut_note, right, widest

VENUE_COLUMNS = (
    ColumnSpec("venue", "Venue", 7),
    ColumnSpec("symbol", "Symbol", 8),
    ColumnSpec("rate", "Next rate", 9),
    ColumnSpec("interval", "Int", 3),
    ColumnSpec("kind", "Kind", 5),
    ColumnSpec("per_hour", "Rate/h", 9),
    ColumnSpec("apr", "APR", 8),
    ColumnSpec("countdown", "Settles in", 10),
    ColumnSpec("settled", "Last settled", 12),
)

PAIR_COLUMNS = (
    ColumnSpec("pair", "Pair", 15),
    ColumnSpec("side", "Long/Short", 14),
    ColumnSpec("spread", "Spread/h", 9),
    ColumnSpec("apr", "APR", 8),
    ColumnSpec("ema_fast", "EMA fast/h", 10),
    ColumnSpec("ema_slow", "EMA slow/h", 10),
    ColumnSpec("basis", "Basis", 7),
    ColumnSpec("edge", "Edge", 7),
    ColumnSpec("status", "Status", 20),
)

VENUE_COMPACT = (
    ColumnSpec("venue", "Venue", 7),
    ColumnSpec("symbol", "Symbol", 7),
    ColumnSpec("rate", "Next", 8),
    ColumnSpec("kind", "Kind", 4),
    ColumnSpec("per_hour", "Rate/h", 9),
    ColumnSpec("apr", "APR", 8),
    ColumnSpec("countdown", "Settles in", 10),
    ColumnSpec("settled", "Settled", 8),
)
"""Venue columns below 110 terminal columns (no interval, short labels: 77 cells). The
countdown keeps its whole label (``Settles`` alone reads as a time of day); a symbol longer
than 7 cells is cut with an ellipsis (``BTCUSD…``), the full set shows it whole."""

PAIR_COMPACT = (
    ColumnSpec("pair", "Pair", 15),
    ColumnSpec("spread", "Spread/h", 9),
    ColumnSpec("apr", "APR", 8),
    ColumnSpec("basis", "Basis", 7),
    ColumnSpec("edge", "Edge", 7),
    ColumnSpec("status", "Status", 20),
)
"""Pair columns below 110 terminal columns (no legs, no EMAs: 78 cells, a 15-cell name)."""

KIND_LABEL = {"fixed": "fix", "estimate": "est", "last": "last"}
"""Short labels of FundingView.next_rate_kind."""

STATUS_STYLE = {"flat": "dim", "open": "green", "closing": "yellow", "leg-risk": "bold red"}
"""Style of PairView.status."""


def _signed_style(value: float | None) -> str:
    if value is None or value == 0:
        return ""
    return "green" if value > 0 else "red"


def venue_row(f: FundingView) -> tuple[str, tuple[Cell, ...]]:
    """Row key and cells of one venue's funding."""
    kind = KIND_LABEL.get(f.next_rate_kind, f.next_rate_kind)
    kind_style = "italic yellow" if f.next_rate_kind == "estimate" else ""
    settled = f"{fmt.rate_pct(f.settled_rate)}" if f.settled_rate is not None else fmt.DASH
    return (
        f"{f.venue}:{f.symbol}",
        (
            f.venue,
            f.symbol,
            right(fmt.rate_pct(f.next_rate)),
            right(fmt.interval(f.interval_h) if f.interval_h > 0 else fmt.DASH),
            Text(kind, style=kind_style),
            right(fmt.rate_pct(f.rate_per_hour, 5)),
            right(fmt.apr_pct(f.apr), _signed_style(f.apr)),
            right(fmt.countdown(f.countdown_ms)),
            right(settled),
        ),
    )


def flat_status(p: PairView, state: str = "ARMED") -> str:
    """A flat pair's status: how far its edge is from the entry threshold and how many
    observations an entry still needs (at most 20 cells), e.g. ``need +0.42%, 3 obs``
    (the edge must rise 0.42 points, then hold for 3 observations) or ``entry in 2 obs``.
    In a trading ``state`` that opens nothing (DISARMED, PAUSED, REDUCING, HALTED) an edge
    that would enter says so instead of promising an entry: ``halted: no entry``."""
    if p.edge_pct is None or p.entry_edge_pct is None:
        return "flat, no reading yet"
    left = p.observations_left
    obs = "" if left is None else f", {left} obs"
    gap = p.entry_edge_pct - p.edge_pct
    if gap > 0:
        return f"need +{gap:.2f}%{obs}"[:20] if gap < 100 else "flat, far from entry"
    if state != "ARMED":
        return f"{state.lower()}: no entry"
    if left:
        return f"entry in {left} obs"
    return "entry due"


def pair_row(p: PairView, state: str = "ARMED") -> tuple[str, tuple[Cell, ...]]:
    """Row key and cells of one pair; leg-risk rows are red and show the unhedged BTC; a
    pair added at run time and not armed yet says ``DISARMED`` (with its edge, once known)
    in yellow."""
    if not p.armed and p.status == "flat":  # added at run time, not armed yet: opens nothing
        status = Text(
            "DISARMED (arm pair)" if p.edge_pct is None else f"DISARMED {p.edge_pct:+.2f}%"[:20],
            style="bold yellow",
        )
        name = Text(p.name, style="yellow")
    elif p.status == "leg-risk":
        status = Text(f"LEG-RISK {fmt.btc(p.unhedged_btc)} BTC", style="bold white on red")
        name = Text(p.name, style="bold red")
    elif p.status == "flat":
        status = Text(flat_status(p, state), style=STATUS_STYLE["flat"])
        name = Text(p.name)
    else:
        status = Text(p.status, style=STATUS_STYLE.get(p.status, ""))
        name = Text(p.name)
    return (
        p.name,
        (
            name,
            f"{p.long_venue}/{p.short_venue}",
            right(fmt.rate_pct(p.spread_per_hour, 5), _signed_style(p.spread_per_hour)),
            right(fmt.apr_pct(p.spread_apr), _signed_style(p.spread_apr)),
            right(fmt.rate_pct(p.spread_ema_fast, 5)),
            right(fmt.rate_pct(p.spread_ema_slow, 5)),
            right(fmt.pct(p.basis_pct, 2, sign=True)),
            right(fmt.pct(p.edge_pct, 2, sign=True)),
            status,
        ),
    )


class FundingPanel(Vertical):
    """Venue funding rates and pair spreads."""

    def compose(self) -> ComposeResult:
        yield KeyedTable(VENUE_COLUMNS, id="funding-venues", compact=VENUE_COMPACT)
        yield KeyedTable(PAIR_COLUMNS, id="funding-pairs", compact=PAIR_COMPACT)

    def on_mount(self) -> None:
        self.border_title = "Funding"
        self._venues = self.query_one("#funding-venues", KeyedTable)
        self._pairs = self.query_one("#funding-pairs", KeyedTable)

    def set_compact(self, compact: bool) -> None:
        """Narrow terminal: fewer columns (the pair's legs and EMAs, venues' symbols go)."""
        self.query_one("#funding-venues", KeyedTable).set_compact(compact)
        self.query_one("#funding-pairs", KeyedTable).set_compact(compact)

    def apply(self, snap: EngineSnapshot) -> None:
        """Show ``snap.funding`` and ``snap.pairs``."""
        self._venues.widen("symbol", widest(f.symbol for f in snap.funding))
        self._pairs.widen("pair", widest(p.name for p in snap.pairs))
        self._venues.sync([venue_row(f) for f in snap.funding])
        state = snap.risk.trading_state
        self._pairs.sync([pair_row(p, state) for p in snap.pairs])
        self.border_subtitle = cut_note(self.size.height, self._venues, self._pairs)

    def on_resize(self) -> None:
        """Capped or freed (a resize, several pairs): say again how many rows are cut."""
        self.call_after_refresh(self._note_cut)

    def _note_cut(self) -> None:
        self.border_subtitle = cut_note(self.size.height, self._venues, self._pairs)
