"""The console's funding-scanner screen (key ``s``): every matched pair of perpetuals on two
venues, ranked by net carry (:mod:`core.domain.scan`), and a detail pane for the selected row.

The screen reads a :class:`ScanFeed` (``core.runtime.scan_host.ScanHost``: the scanner on a
thread of its own) at UI pace (:data:`REFRESH_HZ`), never on the feed's schedule. A new result
updates the table **by row key** (:attr:`~core.domain.scan.Opportunity.pair_key`, kept when a
pair's direction flips): the cursor stays on its pair, new pairs appear, gone ones leave, and
the rows take the chosen order. The table (:class:`tui.scan_table.ScanTable`) renders only the
lines on screen, so 500 rows at 2 Hz cost a few percent of a core
(``bench/scan_screen_bench.py``).
Clicking a column header sorts by it (again: the other way); ``o`` cycles the sort column,
``r`` asks the feed for a refresh at once, ``w`` writes the selected pair into a config file
the operator names (:mod:`tui.scan_config`), ``a`` adds it to this session after a
confirmation naming both legs (an :class:`~core.domain.commands.AddPair` submitted like
every command; the engine's answer, added DISARMED or refused and why, shows here and in the
log), ``escape`` or ``s`` goes back.

The detail pane shows both legs: next estimate and last settled rate (kept apart), interval,
cap and floor, taker fee, mark, 24 h volume and open interest (USD; read per symbol: its
contracts and age, or unknown and why; the table's ``min OI`` is the smaller leg's, ``?``
unknown, and the flag ``oi?`` marks a row kept unchecked by a minimum), the next settlement's
countdown, the funding each leg receives or pays on the notional (the venue's settle currency
and USD), and each leg's settled history (as read: the best rows' legs) as a sparkline.

This module imports only the domain's values (the console's wall: no venue, runtime or engine).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Sparkline, Static

from core.domain.commands import Command
from core.domain.errors import ArbtuiError
from core.domain.scan import HOURS_PER_YEAR, Leg, Opportunity, ScanSettings
from core.domain.snapshot import EngineSnapshot
from core.domain.timeutil import format_age_s, ms_to_iso
from core.domain.universe import SettledHistory
from tui import format as fmt
from tui.modals import ConfirmModal
from tui.scan_config import session_pair, write_pair
from tui.scan_table import ScanTable
from tui.widgets.table import COMPACT_BELOW_COLUMNS

REFRESH_HZ = 2.0
"""How often the screen looks for a new scan result (UI pace)."""
ANSWER_POLL_S = 0.1
"""How often the screen looks for the engine's answer to ``a`` while one is awaited."""


class ScanView(Protocol):
    """What the screen reads of one refresh (``core.runtime.scanner.ScanResult``)."""

    @property
    def rows(self) -> Sequence[Opportunity]: ...
    @property
    def pairs(self) -> int: ...
    @property
    def errors(self) -> Mapping[str, str]: ...
    @property
    def now_ms(self) -> int: ...
    @property
    def histories(self) -> Mapping[tuple[str, str], SettledHistory]: ...


class ScanFeed(Protocol):
    """What the screen needs of ``core.runtime.scan_host.ScanHost``."""

    @property
    def error(self) -> str: ...
    def latest(self) -> ScanView | None: ...
    def refresh_now(self) -> None: ...


def _pct(x: float | None, digits: int = 2) -> tuple[str, float | None]:
    return ("-" if x is None else f"{x * 100:.{digits}f}", x)


def _apr(per_hour: float | None) -> tuple[str, float | None]:
    return _pct(None if per_hour is None else per_hour * HOURS_PER_YEAR, 1)


def _leg_cell(leg: Leg) -> tuple[str, None]:
    p = leg.perp
    return (f"{p.venue} {p.symbol} {p.interval_h:g}h" + (" CAP" if leg.at_cap else ""), None)


COLUMNS: tuple[tuple[str, str], ...] = (
    ("asset", "asset"),
    ("short", "short"),
    ("long", "long"),
    ("apr", "APR% next"),
    ("settled", "APR% settled"),
    ("d1", "1d"),
    ("d3", "3d"),
    ("d7", "7d"),
    ("basis", "basis%"),
    ("fees", "fees%"),
    ("net", "net%"),
    ("net_apr", "net APR%"),
    ("usd", "net USD"),
    ("oi", "min OI M$"),
    ("flags", "flags"),
)
"""(column key, label) of the ranked table."""


TEXT_COLUMNS = frozenset({"asset", "short", "long", "flags"})

COMPACT_COLUMNS = ("asset", "short", "long", "net_apr", "net")
"""The columns shown below :data:`~tui.widgets.table.COMPACT_BELOW_COLUMNS` terminal columns
(about 77 cells with ``1000PEPEUSDT`` legs; the legs' cells carry the intervals and ``CAP``);
the state line says how many are hidden."""


def _min_oi(o: Opportunity) -> tuple[str, float | None]:
    """The smaller leg's open interest in millions of USD (what limits the pair); ``?``
    (sorted as unknown) when either leg's is unknown."""
    a, b = o.short.open_interest_usd, o.long.open_interest_usd
    if a is None or b is None:
        return ("?", None)
    low = min(a, b)
    return (f"{low / 1e6:,.1f}", low)


def texts(o: Opportunity) -> tuple[tuple[str, float | None], ...]:
    """(text, sort value) of each cell of one row, in :data:`COLUMNS` order: plain values,
    cheap to compare and to render (:class:`tui.scan_table.ScanTable`)."""
    avgs = [*o.averages, None, None, None][:3]
    flags = " ".join(
        f
        for f, on in (
            ("intervals", o.intervals_differ), ("cap", o.capped), ("oi?", o.oi_unchecked),
        )
        if on
    )  # fmt: skip
    return (
        (o.asset, None),
        _leg_cell(o.short),
        _leg_cell(o.long),
        _apr(o.spread_per_hour),
        _apr(o.settled_spread_per_hour),
        _apr(avgs[0]),
        _apr(avgs[1]),
        _apr(avgs[2]),
        _pct(o.basis, 3),
        _pct(o.fees, 3),
        _pct(o.net_carry, 3),
        _pct(o.net_apr, 1),
        (f"{o.net_carry_usd:,.2f}", o.net_carry_usd),
        _min_oi(o),
        (flags, None),
    )


def _countdown(next_ms: int | None, now_ms: int) -> str:
    if next_ms is None:
        return "-"
    left = max(0, next_ms - now_ms) // 1000
    return f"{left // 3600:d}h{left % 3600 // 60:02d}m{left % 60:02d}s"


def _opt(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def oi_detail(leg: Leg, now_ms: int) -> str:
    """A leg's open interest for the detail pane: USD, and for a figure read apart from the
    quotes its contracts and age; or unknown and why."""
    read = leg.open_interest
    if leg.open_interest_usd is None:
        return f"unknown ({read.note})" if read is not None and read.note else "-"
    text = f"{leg.open_interest_usd:,.0f} USD"
    if read is not None and read.contracts is not None and read.at_ms is not None:
        age = format_age_s(max(0, now_ms - read.at_ms) / 1000)
        text += f" ({read.contracts:,.6g} contracts, {age} old)"
        if read.note:
            text += f"; {read.note}"
    return text


def leg_text(leg: Leg, now_ms: int) -> Text:
    """The detail lines of one leg."""
    p = leg.perp
    t = Text()
    t.append(f"{leg.side.upper()} {p.venue} {p.symbol}", style="bold")
    t.append(f"  {p.kind}, settles in {p.settle}\n")
    t.append(f"  next {p.next_rate * 100:.4f}% / {p.interval_h:g} h")
    t.append(f" (in {_countdown(p.next_funding_ms, now_ms)})")
    settled = "-" if leg.settled_rate is None else f"{leg.settled_rate * 100:.4f}%"
    t.append(f"   last settled {settled}\n")
    t.append(f"  cap {_opt(p.cap, '.4%')} floor {_opt(p.floor, '.4%')}")
    if leg.at_cap:
        t.append("  AT CAP", style="bold red")
    mark = fmt.price(p.mark, p.tick) if p.tick > 0 else f"{p.mark:,.6g}"  # to the tick
    t.append(f"   taker {p.taker_fee * 100:.3f}%   mark {mark}\n")
    t.append(f"  24h volume {_opt(p.volume_24h_usd, ',.0f')} USD")
    t.append(f"   open interest {oi_detail(leg, now_ms)}\n")
    t.append(
        f"  next settlement on the notional: {leg.funding_next:+.6g} {p.settle} "
        f"({leg.funding_next_usd:+,.2f} USD)\n"
    )
    return t


def state_line(
    res: ScanView,
    now_ms: int,
    *,
    every_s: float | None = None,
    scan: ScanSettings | None = None,
    sort: str = "",
    columns: tuple[int, int, int] = (0, 0, 0),
) -> str:
    """The screen's state line: when the shown scan was taken (UTC) and how long ago (from
    ``now_ms``), how often it refreshes, how many pairs it shows of how many matched, the
    perpetuals read per venue, the filters and the money figures' basis (``scan``), the sort,
    and ``columns`` (fitting the width, shown, all) when some are not in view, e.g.::

        scan 08:00:00 UTC, 12 s ago (every 30 s) | 3 of 3 pairs | binance 3, bybit 3 perps
        filters: none | net over 72 h on 10,000 USD a leg | sort net desc | 5 of 14 columns
        (wider terminal: all)
    """
    age = max(0, now_ms - res.now_ms) // 1000
    every = f" (every {every_s:g} s)" if every_s else ""
    perps = getattr(res, "perps", None) or {}
    read = ", ".join(f"{v} {n}" for v, n in perps.items())
    first = (
        f"scan {ms_to_iso(res.now_ms)[11:19]} UTC, {age:,} s ago{every} | "
        f"{len(res.rows)} of {res.pairs} pairs" + (f" | {read} perps" if read else "")
    )
    second = []
    if scan is not None:
        kept = []
        if scan.min_net_apr_pct is not None:
            kept.append(f"net APR >= {scan.min_net_apr_pct:g}%")
        if scan.min_volume_usd:
            kept.append(f"volume >= {scan.min_volume_usd:,.0f} USD")
        if scan.min_open_interest_usd:
            kept.append(f"OI >= {scan.min_open_interest_usd:,.0f} USD")
        second.append(f"filters: {', '.join(kept) or 'none'}")
        second.append(f"net over {scan.horizon_h:g} h on {scan.notional_usd:,.0f} USD a leg")
    if sort:
        second.append(f"sort {sort}")
    fit, shown, total = columns
    if shown < total:  # a compact set: the others need a wider terminal
        second.append(f"{shown} of {total} columns (wider terminal: all)")
    elif fit < shown:  # the others are off to the right
        second.append(f"{fit} of {total} columns fit (left/right scroll)")
    return first + ("\n" + " | ".join(second) if second else "")


DEFAULT_CONFIG_NAME = "scanned_pairs.toml"
"""What the ``w`` prompt offers (relative to the working directory)."""


class PathModal(ModalScreen[str | None]):
    """Asks for the config file to write the selected pair into: enter writes, escape
    cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PathModal { align: center middle; }
    PathModal > Vertical { width: 70; height: auto; border: thick $accent; padding: 1 2; }
    """

    def __init__(self, question: str, default: str) -> None:
        super().__init__()
        self.question = question
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question)
            yield Input(self.default, id="path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ScannerScreen(Screen[None]):
    """The ranked table and the detail pane; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,s", "app.pop_screen", "Back", key_display="esc"),
        Binding("r", "refresh_now", "Refresh"),
        Binding("o", "cycle_sort", "Sort"),
        Binding("w", "write_config", "Write pair"),
        Binding("a", "add_to_session", "Add to session"),
    ]

    # the console's breakpoints, also when the screen runs in another app (tests); textual
    # declares these as instance variables: a ClassVar here would not type-check
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (COMPACT_BELOW_COLUMNS, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]  # noqa: RUF012

    # below 34 rows the detail pane gives the table room: no sparklines, 8 lines of detail
    DEFAULT_CSS = """
    ScannerScreen #scan-head { height: auto; max-height: 4; padding: 0 1; background: $panel; }
    ScannerScreen #scan-table { height: 1fr; min-height: 4; }
    ScannerScreen #scan-detail-box { height: auto; max-height: 14; border-top: solid $accent; }
    ScannerScreen.-short #scan-detail-box { max-height: 9; }
    ScannerScreen.-short .spark-row { display: none; }
    ScannerScreen #scan-detail { height: auto; padding: 0 1; }
    ScannerScreen .spark-row { height: 2; }
    ScannerScreen .spark-label { width: 28; padding: 0 1; }
    ScannerScreen Sparkline { width: 1fr; height: 2; }
    """

    def __init__(
        self,
        feed: ScanFeed,
        clock: Callable[[], int] | None = None,
        *,
        submit: Callable[[Command], None] | None = None,
        snapshot: Callable[[], EngineSnapshot | None] | None = None,
    ) -> None:
        super().__init__()
        self.feed = feed
        self.submit = submit
        """Hands a command to the engine (the console's ``submit``); None: ``a`` is not
        offered."""
        self.engine_snapshot = snapshot or (lambda: None)
        """The console's latest engine snapshot (the engine's answer to ``a`` is read
        there)."""
        self._awaiting: tuple[str, int] | None = None
        """(pair name, last log seq when submitted) while ``a``'s answer is awaited."""
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.shown: ScanView | None = None
        """The result on screen."""
        self.applied = 0
        """How many distinct results have been applied (for tests)."""
        self.last_message = ""
        """What the last ``w`` said (for tests and the operator's scrollback)."""
        self.sort_column = "net"
        self.sort_reverse = True
        self.by_key: dict[str, Opportunity] = {}
        """The rows on screen by row key (:attr:`Opportunity.pair_key`)."""
        self._cells: dict[str, tuple[tuple[str, float | None], ...]] = {}

    def compose(self) -> ComposeResult:
        yield Static("funding scanner: waiting for the first scan...", id="scan-head")
        yield ScanTable(
            [(key, label, key not in TEXT_COLUMNS) for key, label in COLUMNS], id="scan-table"
        )
        with Vertical(id="scan-detail-box"):
            yield Static("", id="scan-detail")
            with Horizontal(classes="spark-row"):
                yield Static("", id="spark-short-label", classes="spark-label")
                yield Sparkline([], id="spark-short")
            with Horizontal(classes="spark-row"):
                yield Static("", id="spark-long-label", classes="spark-label")
                yield Sparkline([], id="spark-long")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.pull()
        self.set_interval(1 / REFRESH_HZ, self.pull)
        self.set_interval(ANSWER_POLL_S, self.watch_answer)

    # -- data ----------------------------------------------------------------------------

    def pull(self) -> None:
        """Apply the feed's latest result if it is a new one; keep the header current."""
        res = self.feed.latest()
        if res is not None and res is not self.shown:
            self.apply(res)
        self._head()

    def _head(self) -> None:
        res = self.shown
        head = self.query_one("#scan-head", Static)
        if res is None:
            why = f" ({self.feed.error})" if self.feed.error else ""
            head.update(f"funding scanner: waiting for the first scan...{why}")
            return
        errors = "; ".join(f"{v} not read: {e[:60]}" for v, e in res.errors.items())
        table = self.query_one("#scan-table", ScanTable)
        text = state_line(
            res,
            self.clock(),
            every_s=getattr(self.feed, "every_s", None),
            scan=getattr(self.feed, "scan", None),
            sort=f"{self.sort_column}{' desc' if self.sort_reverse else ''}",
            columns=(table.columns_in_view(), len(table.shown_columns), len(COLUMNS)),
        )
        head.update(text + (f"  [{errors}]" if errors else ""))

    def on_resize(self) -> None:
        """Below :data:`~tui.widgets.table.COMPACT_BELOW_COLUMNS` columns the table shows
        :data:`COMPACT_COLUMNS` (the state line says so)."""
        narrow = self.size.width < COMPACT_BELOW_COLUMNS
        self.query_one("#scan-table", ScanTable).show_only(COMPACT_COLUMNS if narrow else None)
        self._head()

    def apply(self, res: ScanView) -> None:
        """Show ``res``: every row by its key (the cursor stays on its pair), in the chosen
        order, and the detail pane of the selected row."""
        new = {o.pair_key: o for o in res.rows}
        self._cells = {k: texts(o) for k, o in new.items()}
        self.by_key, self.shown = new, res
        self._sort()
        self.applied += 1
        self.show_detail()

    def _sort(self) -> None:
        col = [k for k, _ in COLUMNS].index(self.sort_column)
        numeric = self.sort_column not in TEXT_COLUMNS

        def key(k: str) -> Any:
            text, value = self._cells[k][col]
            return (value is not None, value or 0.0) if numeric else text

        order = sorted(self._cells, key=key, reverse=self.sort_reverse)
        self.query_one("#scan-table", ScanTable).set_rows(self._cells, order)

    def selected(self) -> Opportunity | None:
        """The row under the cursor, or None."""
        key = self.query_one("#scan-table", ScanTable).cursor_key
        return None if key is None else self.by_key.get(key)

    def show_detail(self) -> None:
        """Fill the detail pane from the selected row."""
        o = self.selected()
        detail = self.query_one("#scan-detail", Static)
        if o is None or self.shown is None:
            errors = self.shown.errors if self.shown is not None else {}
            if errors:  # nothing to rank because a venue could not be read, not "no match"
                t = Text("no pair: ", "bold red")
                t.append("; ".join(f"{v} not read ({e})" for v, e in errors.items()), "red")
                t.append("\nr tries again now; the scanner also retries on its own schedule")
                detail.update(t)
            else:
                detail.update("no pair matches the filters")
            return
        now = self.clock()
        t = Text()
        t.append(f"{o.asset}: short {o.short.perp.venue}, long {o.long.perp.venue}\n", "bold")
        t.append(
            f"spread {o.spread_per_hour * 100:.5f}%/h ({o.spread_apr * 100:.1f}% APR next)"
            f"   basis paid {o.basis * 100:.3f}%   round-trip fees {o.fees * 100:.3f}%"
            f"   net {o.net_carry * 100:.3f}% ({o.net_apr * 100:.1f}% APR,"
            f" {o.net_carry_usd:+,.2f} USD)\n"
        )
        t.append_text(leg_text(o.short, now))
        t.append_text(leg_text(o.long, now))
        detail.update(t)
        for side, leg in (("short", o.short), ("long", o.long)):
            hist = self.shown.histories.get(leg.perp.key)
            rates = list(hist.rates) if hist is not None else []
            label = f"{side} settled: {len(rates)} rows" if rates else f"{side}: no history read"
            self.query_one(f"#spark-{side}-label", Static).update(label)
            self.query_one(f"#spark-{side}", Sparkline).data = rates

    # -- events and actions --------------------------------------------------------------

    def on_scan_table_row_highlighted(self, event: ScanTable.RowHighlighted) -> None:
        self.show_detail()

    def on_scan_table_header_selected(self, event: ScanTable.HeaderSelected) -> None:
        col = event.column
        if col == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = col, col not in ("asset", "short", "long")
        self._sort()
        self._head()

    def action_cycle_sort(self) -> None:
        """``o``: sort by the next column shown."""
        keys = self.query_one("#scan-table", ScanTable).shown_columns
        at = keys.index(self.sort_column) if self.sort_column in keys else -1  # hidden: first
        col = keys[(at + 1) % len(keys)]
        self.sort_column, self.sort_reverse = col, col not in ("asset", "short", "long")
        self._sort()
        self._head()

    def action_write_config(self) -> None:
        """``w``: write the selected pair (its two instruments and a ``[[pairs]]`` entry)
        into a config file the operator names (:func:`tui.scan_config.write_pair`)."""
        o = self.selected()
        if o is None:
            self.notify("No pair selected.", timeout=3)
            return
        settings = getattr(self.feed, "settings", None)

        def done(path: str | None) -> None:
            if not path:
                return
            try:
                name = write_pair(path, o, settings)
            except (ArbtuiError, OSError) as exc:
                self.last_message = f"{o.asset} not written to {path}: {exc}"
                self.notify(self.last_message, severity="error", timeout=6)
                return
            self.last_message = f"pair {name} ({o.key}) is in {path}"
            self.notify(self.last_message, timeout=6)

        question = f"Write {o.key} into the config file (created from this config if new):"
        self.app.push_screen(PathModal(question, DEFAULT_CONFIG_NAME), done)

    def action_add_to_session(self) -> None:
        """``a``: after a confirmation naming the two legs, add the selected pair to this
        session (:func:`tui.scan_config.session_pair`: pair settings from ``[strategy]``,
        ``[ladder]``, ``[sizing]``, limits from ``[risk]``); it appears on the main screen
        DISARMED until armed (palette: Arm pair NAME). The engine's answer shows here."""
        o = self.selected()
        if o is None:
            self.notify("No pair selected.", timeout=3)
            return
        if self.submit is None:
            self.notify("Adding a pair is not available in this session.", timeout=3)
            return
        snap = self.engine_snapshot()
        taken = {p.name for p in snap.pairs} if snap is not None else set()
        settings = getattr(self.feed, "settings", None)
        try:
            command = session_pair(o, settings, taken)
        except ValueError as exc:  # msgspec.ValidationError: a scan row that does not convert
            self.last_message = f"{o.asset} not added: {exc}"
            self.notify(self.last_message, severity="error", timeout=6)
            return
        name = command.pair.name
        s, lg = o.short.perp, o.long.perp
        legs = (
            f"short {s.venue} {s.symbol} ({s.kind}, {s.interval_h:g} h) and "
            f"long {lg.venue} {lg.symbol} ({lg.kind}, {lg.interval_h:g} h)"
        )

        def answered(yes: bool | None) -> None:
            if not yes or self.submit is None:
                return
            now = self.engine_snapshot()
            seq = now.log[-1].seq if now is not None and now.log else 0
            self._awaiting = (name, seq)
            self.last_message = f"adding pair {name} ({legs})..."
            self.submit(replace(command, source=getattr(self.app, "source", "")))

        self.app.push_screen(
            ConfirmModal(
                "add-pair",
                f"Add pair {name} to this session?",
                f"Legs: {legs}. Strategy, ladder and sizing from the config, limits from "
                f"[risk], cap {command.pair.max_notional_usd} USD a leg. It starts DISARMED: "
                f"nothing opens until you arm it (ctrl+p: Arm pair {name}).",
            ),
            answered,
        )

    def watch_answer(self) -> None:
        """While ``a``'s answer is awaited: the engine's ``add pair NAME: added ...`` or
        ``... refused: why`` line, once it is in the snapshot's log, becomes a notice here."""
        if self._awaiting is None:
            return
        name, seq = self._awaiting
        snap = self.engine_snapshot()
        if snap is None:
            return
        prefix = f"add pair {name}: "
        for e in snap.log:
            if e.seq <= seq or not e.text.startswith(prefix):
                continue
            what = e.text.removeprefix(prefix)
            if what.startswith("refused"):
                self._awaiting = None
                self.last_message = e.text
                self.notify(e.text, severity="error", timeout=10)
                return
            if what.startswith("added"):
                self._awaiting = None
                self.last_message = e.text
                self.notify(e.text, timeout=8)
                return

    def action_refresh_now(self) -> None:
        """``r``: ask the scanner for a refresh now."""
        self.feed.refresh_now()
        self.notify("scan requested", timeout=2)
