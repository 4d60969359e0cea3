"""The book panel (second view, ``2``): what the run has earned and paid so far, as the headless
report gives it: hedge turnover, fees per purpose, funding per venue, days to break even per
pair held at the current spread, and the last round trips, newest first (holding time,
funding, fees, basis, net). All money in USD; times UTC."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.domain.snapshot import EngineSnapshot
from tui import format as fmt


def book_text(snap: EngineSnapshot) -> Text:
    """The panel's lines for ``snap`` (plain enough to wrap at any width)."""
    t = Text()
    h = snap.hedges
    t.append("hedges ", "bold")
    t.append(f"{h.count} fills, {fmt.btc(h.btc, sign=False)} BTC, fees {fmt.usd(h.fees_usd)} USD")
    book = snap.book
    if book.fees_usd_by_purpose:
        t.append("\nfees USD ", "bold")
        t.append(", ".join(f"{p} {fmt.usd(v)}" for p, v in book.fees_usd_by_purpose))
    if book.funding_usd_by_venue:
        t.append("\nfunding USD ", "bold")
        t.append(", ".join(f"{v} {fmt.usd(a, sign=True)}" for v, a in book.funding_usd_by_venue))
    for p in snap.pairs:
        if p.status == "flat":
            continue  # nothing held: no cost to earn back
        t.append(f"\nbreak-even {p.name} ", "bold")
        days = p.break_even_days
        t.append("not at this spread" if days is None else f"{days:,.1f} days at this spread")
    if book.round_trips:
        shown = len(book.round_trips)
        more = book.round_trips_total - shown
        t.append("\nround trips", "bold")
        t.append(f" (last {shown} of {book.round_trips_total}" if more else " (", "dim")
        t.append("newest first)", "dim")
        for rt in reversed(book.round_trips):  # a short terminal cuts the oldest
            end = fmt.hhmm(rt.close_ts_ms) if rt.close_ts_ms is not None else "open"
            hours = rt.holding_hours(snap.ts_ms)
            t.append(
                f"\n {rt.pair} {fmt.hhmm(rt.open_ts_ms)} -> {end} {hours:,.0f} h: "
                f"funding {fmt.usd(rt.funding_usd, sign=True)} fees {fmt.usd(rt.fees_usd)} "
                f"basis {fmt.usd(rt.basis_usd, sign=True)}"
            )
            t.append(f" net {fmt.usd(rt.net_usd, sign=True)}", "bold")
    return t


class BookPanel(Static):
    """The book panel; :meth:`apply` redraws it only when the book or the turnover changed."""

    DEFAULT_CSS = """
    BookPanel { height: auto; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "Book (USD)"
        self._key: object = None

    def apply(self, snap: EngineSnapshot) -> None:
        """Show ``snap``'s book, turnover and break-even figures."""
        key = (snap.book, snap.hedges, tuple(p.break_even_days for p in snap.pairs))
        if key == self._key:
            return
        self._key = key
        self.update(book_text(snap))
